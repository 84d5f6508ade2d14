"""Test a website's password reset against mcsim (the README's example, run by mcsim's suite).

`pip install mcsim` brings the pytest plugin: the `mcsim` fixture starts a stack with the demo
templates for the test session (or attaches to yours: --mcsim-url), resets it before each test
and hands you a client. Nothing sleeps: every wait happens on the server.
"""

from datetime import timedelta

import pytest

from services.testing import McsimClient, WaitTimeout


def test_the_reset_email_reaches_ann_with_her_link(mcsim: McsimClient) -> None:
    pl_id = mcsim.push_event(  # SOAP nms:rtEvent#PushEvent, as the website sends it
        "PASSWORD_RESET",
        email="ann@example.com",
        ctx={"firstName": "Ann", "resetUrl": "https://shop.example/reset?t=42"},
    )
    message = mcsim.wait_for_message(to="ann@example.com", subject="Reset your password")
    assert message.subject == "Reset your password, Ann"
    assert message.sender == "Acme Shop <no-reply@acme.test>"
    assert message.header("To") == "ann@example.com"
    assert "Hello Ann" in message.text
    assert "<p>Hello Ann,</p>" in message.html
    assert message.links == ("https://shop.example/reset?t=42",)
    assert mcsim.wait_for_status(pl_id, "processed").status == "processed"


def test_a_hard_bounce_fails_the_event_and_quarantines_the_address(mcsim: McsimClient) -> None:
    event = mcsim.post_event(  # the REST transactional API
        "PASSWORD_RESET", email="bob+hard@example.com", ctx={"firstName": "Bob"}
    )
    state = mcsim.wait_for_status(event.pl_id)
    assert state.status == "deliveryFailed"
    assert state.failure_reason == 1  # User unknown


def test_when_the_mail_server_refuses_everything(mcsim: McsimClient) -> None:
    with mcsim.chaos("email", failure_reason=20, failure_type="hard"):
        pl_id = mcsim.push_event("PASSWORD_RESET", email="cat@example.com", ctx={})
        assert mcsim.wait_for_status(pl_id).status == "deliveryFailed"
    pl_id = mcsim.push_event("PASSWORD_RESET", email="dan@example.com", ctx={})
    assert mcsim.wait_for_status(pl_id).status == "processed"  # the chaos is over


def test_a_reset_scheduled_two_hours_ahead_goes_out_when_the_clock_gets_there(
    mcsim: McsimClient,
) -> None:
    pl_id = mcsim.push_event(
        "PASSWORD_RESET",
        email="eve@example.com",
        ctx={"firstName": "Eve"},
        scheduled=mcsim.now() + timedelta(hours=2),
    )
    with pytest.raises(WaitTimeout):  # not before its date
        mcsim.wait_for_message(to="eve@example.com", timeout=1)
    mcsim.advance_clock("2h")  # every service of the stack, at once
    message = mcsim.wait_for_message(to="eve@example.com")
    assert message.subject == "Reset your password, Eve"
    assert mcsim.wait_for_status(pl_id, "processed").status == "processed"
