"""Magic recipients: parsing, and the outcome they force on each try."""

from __future__ import annotations

import pytest

from midsourcing.delivery.magic import MAX_DELAY_SECONDS, Magic, MagicKind, parse_magic
from midsourcing.delivery.reasons import FailureReason
from services.delivery_protocol import FailureType


@pytest.mark.parametrize(
    ("channel", "recipient", "kind", "delay"),
    [
        ("email", "ann+hard@example.com", MagicKind.HARD, 0.0),
        ("email", "ANN+HARD@EXAMPLE.COM", MagicKind.HARD, 0.0),
        ("email", "ann+soft@example.com", MagicKind.SOFT, 0.0),
        ("email", "ann+softonce@example.com", MagicKind.SOFT_ONCE, 0.0),
        ("email", "ann+delay=3s@example.com", None, 3.0),
        ("email", "ann+delay=250ms@example.com", None, 0.25),
        ("email", "ann+delay=2m@example.com", None, 120.0),
        ("email", "ann+delay=7@example.com", None, 7.0),
        ("email", "ann+delay=99h@example.com", None, 0.0),  # not a delay: an ordinary tag
        ("email", "ann+delay=1.5s+softonce@example.com", MagicKind.SOFT_ONCE, 1.5),
        ("email", "ann+delay=9999m@example.com", None, MAX_DELAY_SECONDS),
        ("email", "ann@example.invalid", MagicKind.INVALID_DOMAIN, 0.0),
        ("email", "ann@mail.nowhere.INVALID.", MagicKind.INVALID_DOMAIN, 0.0),
        ("email", "ann+hard@example.invalid", MagicKind.INVALID_DOMAIN, 0.0),
        ("email", "ann@invalid.example.com", None, 0.0),
        ("email", "ann+news@example.com", None, 0.0),
        ("email", "hard@example.com", None, 0.0),
        ("email", "not-an-address", None, 0.0),
        ("sms", "+33612340000", MagicKind.UNREACHABLE, 0.0),
        ("sms", "+33612340001", None, 0.0),
        ("ios", "invalid-token-1", MagicKind.UNREGISTERED, 0.0),
        ("android", "INVALIDtoken", MagicKind.UNREGISTERED, 0.0),
        ("android", "token-invalid", None, 0.0),
        ("ios", "a" * 64, None, 0.0),
    ],
)
def test_parse_magic(channel: str, recipient: str, kind: MagicKind | None, delay: float) -> None:
    assert parse_magic(channel, recipient) == Magic(kind, delay)


def test_magic_only_applies_to_its_channel() -> None:
    assert parse_magic("sms", "ann+hard@example.com") == Magic()
    assert parse_magic("email", "+33612340000") == Magic()
    assert parse_magic("email", "invalid@example.com") == Magic()


@pytest.mark.parametrize(
    ("recipient", "channel", "tries", "expected"),
    [
        ("ann+hard@example.com", "email", [1], (FailureType.HARD, FailureReason.USER_UNKNOWN)),
        (
            "ann+soft@example.com",
            "email",
            [1, 2, 5],
            (FailureType.SOFT, FailureReason.MAILBOX_FULL),
        ),
        ("a@b.invalid", "email", [1, 4], (FailureType.SOFT, FailureReason.INVALID_DOMAIN)),
        ("+33612340000", "sms", [1, 3], (FailureType.SOFT, FailureReason.UNREACHABLE)),
        ("invalidX", "ios", [1], (FailureType.HARD, FailureReason.USER_UNKNOWN)),
    ],
)
def test_failing_magic_fails_every_try(
    recipient: str,
    channel: str,
    tries: list[int],
    expected: tuple[FailureType, FailureReason],
) -> None:
    magic = parse_magic(channel, recipient)
    for number in tries:
        attempt = magic.attempt(recipient=recipient, try_number=number)
        assert attempt is not None
        assert (attempt.failure_type, attempt.reason) == expected
        assert "mcsim magic" in attempt.text
        assert attempt.address_fault


def test_softonce_bounces_on_the_first_try_only() -> None:
    magic = parse_magic("email", "ann+softonce@example.com")
    first = magic.attempt(recipient="ann+softonce@example.com", try_number=1)
    assert first is not None
    assert (first.failure_type, first.reason) == (FailureType.SOFT, FailureReason.MAILBOX_FULL)
    assert magic.attempt(recipient="ann+softonce@example.com", try_number=2) is None


def test_ordinary_and_delayed_recipients_are_delivered_normally() -> None:
    assert Magic().attempt(recipient="ann@example.com", try_number=1) is None
    delayed = parse_magic("email", "ann+delay=3s@example.com")
    assert delayed.attempt(recipient="ann+delay=3s@example.com", try_number=1) is None
