"""An email without a source fails alone, with the header and the reason (review F14 and its note).

Capture mode checks the addresses as the relay mode renders them: a message is never recorded
sent while its ``/raw`` has no source. A rendering that raises fails that message, final.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from midsourcing.delivery.chaos import Chaos
from midsourcing.delivery.deliverer import CAPTURED, Deliverer
from midsourcing.delivery.reasons import FailureReason
from midsourcing.delivery.smtp import RelaySettings, SmtpRelay
from midsourcing.delivery.webhook import WebhookForwarder
from services.delivery_protocol import FailureType
from tests.unit.midsourcing.builders import outgoing


def _unused(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no webhook expected: {request.url}")


async def _deliverer(relay: SmtpRelay | None) -> AsyncIterator[Deliverer]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_unused)) as client:
        yield Deliverer(
            chaos=Chaos(),
            relay=relay,
            forwarder=WebhookForwarder(client, tries=1, retry_seconds=0.0),
            message_id_domain="mcsim.local",
            sms_webhook_url=None,
            push_webhook_url=None,
        )


@pytest.fixture
async def capture() -> AsyncIterator[Deliverer]:
    """A deliverer in capture mode (no relay)."""
    async for deliverer in _deliverer(None):
        yield deliverer


def _unreachable_relay() -> SmtpRelay:
    """A relay that nothing in these tests may reach (port 9, discard)."""
    return SmtpRelay(RelaySettings(host="127.0.0.1", port=9))


@pytest.fixture
async def relayed() -> AsyncIterator[Deliverer]:
    """A deliverer with a relay."""
    async for deliverer in _deliverer(_unreachable_relay()):
        yield deliverer


@pytest.fixture(params=["capture", "relayed"])
async def either(request: pytest.FixtureRequest) -> AsyncIterator[Deliverer]:
    """A deliverer in capture mode, then one with a relay."""
    async for deliverer in _deliverer(_unreachable_relay() if request.param == "relayed" else None):
        yield deliverer


@pytest.mark.parametrize(
    ("field", "value", "header"),
    [
        ("reply_to", "support@acme.test,attacker@evil.example", "Reply-To"),
        ("from_address", "no-reply@acme.test>,<ceo@bank.example", "From"),
        ("reply_to", "support@acme.test\r\nBcc: evil@evil.example", "Reply-To"),
    ],
)
async def test_a_bad_sender_header_fails_the_message_without_quarantine(
    either: Deliverer, field: str, value: str, header: str
) -> None:
    attempt = (await either.deliver(outgoing(**{field: value}))).attempt
    assert not attempt.delivered
    assert (attempt.failure_type, attempt.reason) == (FailureType.HARD, FailureReason.REFUSED)
    assert attempt.text.startswith(f"Refused: the message cannot be encoded: {header} ")
    assert not attempt.address_fault  # the template's doing, not the recipient's


async def test_a_bad_recipient_is_the_recipients_fault(capture: Deliverer) -> None:
    attempt = (await capture.deliver(outgoing(recipient="a@x.test,b@y.test"))).attempt
    assert not attempt.delivered and attempt.address_fault
    assert "To 'a@x.test,b@y.test'" in attempt.text


async def test_a_good_email_is_still_captured(capture: Deliverer) -> None:
    attempt = (await capture.deliver(outgoing())).attempt
    assert attempt.delivered and attempt.text == CAPTURED


@pytest.mark.parametrize("size", [10, 100_000])  # inline, and in a worker thread
async def test_a_rendering_that_raises_fails_that_message(relayed: Deliverer, size: int) -> None:
    broken = outgoing(text="x" * size + "\ud800")  # no stored message holds this; a bug could
    attempt = (await relayed.deliver(broken)).attempt
    assert (attempt.delivered, attempt.failure_type) == (False, FailureType.HARD)
    assert attempt.text.startswith("Refused: the message cannot be rendered: UnicodeEncodeError")
    assert not attempt.address_fault
