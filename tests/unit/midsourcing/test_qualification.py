"""SMTP replies are qualified as Campaign's MTA does (type and failure reason)."""

from __future__ import annotations

import pytest

from midsourcing.delivery.qualification import qualify_smtp_reply, qualify_unreachable
from midsourcing.delivery.reasons import FailureReason
from services.delivery_protocol import FailureType

HARD, SOFT = FailureType.HARD, FailureType.SOFT


@pytest.mark.parametrize(
    ("code", "message", "kind", "reason"),
    [
        (550, "5.1.1 <a@b.c>: Recipient address rejected: User unknown", HARD, 1),
        (550, "Mailbox unavailable", HARD, 1),
        (551, "User not local", HARD, 1),
        (553, "Mailbox name not allowed", HARD, 1),
        (550, "5.1.2 Bad destination system address", HARD, 2),
        (550, "5.2.1 Mailbox disabled", HARD, 4),
        (550, "5.7.1 Message rejected as spam", HARD, 20),
        (554, "Transaction failed", HARD, 20),
        (500, "Syntax error", HARD, 20),
        (552, "Requested mail action aborted: exceeded storage allocation", SOFT, 5),
        (452, "4.2.2 Mailbox full", SOFT, 5),
        (452, "Insufficient system storage", SOFT, 5),
        (450, "4.7.1 Greylisted, try again later", SOFT, 20),
        (451, "4.7.1 Policy: try later", SOFT, 20),
        (421, "4.4.2 Service not available", SOFT, 3),
        (451, "Temporary local problem", SOFT, 3),
        (499, "", SOFT, 3),
    ],
)
def test_failure_replies_get_campaigns_type_and_reason(
    code: int, message: str, kind: FailureType, reason: int
) -> None:
    attempt = qualify_smtp_reply(code, message)
    assert not attempt.delivered
    assert (attempt.failure_type, int(attempt.reason)) == (kind, reason)
    assert attempt.text == f"{code} {message}".strip()
    assert attempt.address_fault


def test_the_enhanced_code_wins_over_the_basic_code() -> None:
    assert qualify_smtp_reply(550, "5.7.1 spam").reason is FailureReason.REFUSED
    assert qualify_smtp_reply(550, "no enhanced code").reason is FailureReason.USER_UNKNOWN
    # A version number in the text is not an enhanced status code.
    assert qualify_smtp_reply(554, "Postfix 3.7.1.2 refused").reason is FailureReason.REFUSED


@pytest.mark.parametrize("code", [250, 251, 200])
def test_2xx_replies_are_delivered(code: int) -> None:
    attempt = qualify_smtp_reply(code, "2.0.0 Ok: queued as 123")
    assert attempt.delivered
    assert attempt.failure_type is FailureType.NONE
    assert attempt.text == f"{code} 2.0.0 Ok: queued as 123"


def test_an_unreachable_relay_is_a_soft_failure_that_is_not_the_addresss_fault() -> None:
    attempt = qualify_unreachable("127.0.0.1:1: Connection refused")
    assert (attempt.failure_type, attempt.reason) == (SOFT, FailureReason.UNREACHABLE)
    assert not attempt.address_fault
    assert "Connection refused" in attempt.text


def test_reason_labels_and_usual_types_follow_campaigns_table() -> None:
    assert FailureReason.QUARANTINE.label == "Address in quarantine"
    assert FailureReason(5).label == "Mailbox full"
    assert FailureReason.USER_UNKNOWN.usual_type is HARD
    assert FailureReason.INVALID_DOMAIN.usual_type is SOFT
    assert FailureReason.DOUBLE.usual_type is FailureType.IGNORED
