"""A message is checked on its own before it joins a part; an unreadable delivery log is left out.

``message_problem`` must say exactly what would make a part fail to be written (XML) or be
refused whole by the mid-sourcing server, so that one message never sinks the others (security
review 2026-12, F5).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from midsourcing.parts import service as parts
from midsourcing.parts.service import PartRefused, check_part
from services.delivery_protocol import (
    MESSAGE_LIMITS,
    XML_ILLEGAL,
    DeliveryMessage,
    DeliveryPart,
    FailureType,
    LogStatus,
    message_problem,
    parse_delivery_logs,
    parse_delivery_part,
    render_delivery_part,
)

GOOD = DeliveryMessage(
    id="1-abcd1234-7",
    event_id=(1 << 56) | 7,
    event_type="PASSWORD_RESET",
    channel="email",
    to="ann@example.com",
    subject="Héllo <Ann> & “friends” \U0001f600",
    text="line 1\r\nline 2\tend",
    html="<p>Hi</p>",
    from_name="Acme",
    from_address="noreply@acme.test",
)
TEXT_FIELDS = ["to", "text", "subject", "html", "from_name", "from_address", "reply_to", "title"]
TEXT_FIELDS += ["app", "data", "event_type"]


def _survives_the_wire(message: DeliveryMessage) -> bool:
    """Return whether a part of ``message`` is written, read back and accepted by mid-sourcing."""
    try:
        wire = etree.tostring(render_delivery_part(DeliveryPart("p", 1, "rt", [message])))
        check_part(parse_delivery_part(etree.fromstring(wire)), max_messages=10)
    except (ValueError, PartRefused):
        return False
    return True


def test_a_good_message_has_no_problem() -> None:
    assert message_problem(GOOD) is None
    push = replace(GOOD, channel="android", to="tok", app="com.acme", data='{"a": 1}')
    assert message_problem(push) is None


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\ud800", "\ufffe"])
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_a_character_xml_cannot_carry_is_named_with_its_field(field: str, char: str) -> None:
    message = replace(GOOD, **{field: "ok" + char})  # type: ignore[arg-type]
    assert message_problem(message) == (
        f"its {field} holds U+{ord(char):04X} at position 2, a character XML cannot carry"
    )
    assert not _survives_the_wire(message)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"to": ""}, "no recipient: the email address is empty"),
        ({"to": " \t"}, "no recipient: the email address is empty"),
        ({"id": " "}, "the message has no id"),
        ({"channel": "fax"}, "unknown channel 'fax'"),
        ({"event_type": "E" * 65}, "its event_type is longer than 64 characters"),
        ({"app": "a" * 256}, "its app is longer than 255 characters"),
        ({"event_id": 2**63}, "its event id does not fit a 64-bit id"),
    ],
)
def test_what_mid_sourcing_would_refuse_is_found_first(
    changes: dict[str, object], problem: str
) -> None:
    message = replace(GOOD, **changes)  # type: ignore[arg-type]
    assert message_problem(message) == problem
    assert not _survives_the_wire(message)


def test_the_illegal_characters_are_exactly_those_outside_xml_char_production() -> None:
    every = "".join(chr(code) for code in range(0x110000))
    outside = [
        c
        for c in every
        if not (
            c in "\t\n\r"
            or "\x20" <= c <= "\ud7ff"
            or "\ue000" <= c <= "\ufffd"
            or "\U00010000" <= c <= "\U0010ffff"
        )
    ]
    assert XML_ILLEGAL.findall(every) == outside


def test_the_limits_are_those_of_the_mid_sourcing_server() -> None:
    assert MESSAGE_LIMITS == parts._LIMITS


_ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=8)


@given(
    field=st.sampled_from([*TEXT_FIELDS, "id"]),
    value=st.one_of(_ANY_TEXT, st.sampled_from(["", " ", "\r", "é" * 70, "x" * 256])),
)
def test_a_message_without_a_problem_always_survives_the_wire_and_no_other_does(
    field: str, value: str
) -> None:
    message = replace(GOOD, **{field: value})  # type: ignore[arg-type]
    assert (message_problem(message) is None) == _survives_the_wire(message)


def test_unreadable_delivery_logs_are_left_out_and_unreadable_details_defaulted() -> None:
    root = etree.fromstring(
        "<deliveryLogs>"
        '<log seq="1" eventId="72057594037927937" status="sent" at="2026-11-28 10:00:00.000Z"/>'
        '<log seq="2" eventId="not a number" status="sent"/>'
        '<log seq="3" eventId="72057594037927939" status="bounced"/>'
        '<log seq="x" eventId="72057594037927940" status="failed" failureType="weird"'
        ' failureReason="many" tries="" at="yesterday" text="550"/>'
        "</deliveryLogs>"
    )
    first, last = parse_delivery_logs(root)
    assert (first.seq, first.status) == (1, LogStatus.SENT)
    assert (last.event_id, last.status, last.text) == (72057594037927940, LogStatus.FAILED, "550")
    assert (last.seq, last.failure_type, last.failure_reason, last.tries) == (
        0,
        FailureType.NONE,
        0,
        1,
    )
