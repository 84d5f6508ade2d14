"""What follows a try: final status, retry schedule, log, and the change to the address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from midsourcing.delivery.policy import RetryPolicy, decide, decide_ignored
from midsourcing.delivery.qualification import qualify_unreachable
from midsourcing.delivery.reasons import Attempt, FailureReason
from midsourcing.quarantine.addresses import AddressEffect
from services.delivery_protocol import FailureType, LogStatus
from tests.unit.midsourcing.builders import outgoing

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_tries=5, retry_seconds=2.0, retry_max_seconds=10.0)


def test_a_delivery_is_sent_and_clears_the_address_errors() -> None:
    decision = decide(outgoing(), Attempt.sent("250 ok"), now=NOW, policy=POLICY)
    assert (decision.status, decision.log_status, decision.final) == ("sent", LogStatus.SENT, True)
    assert (decision.failure_type, decision.reason, decision.text) == (
        FailureType.NONE,
        0,
        "250 ok",
    )
    assert decision.address is not None
    assert decision.address.effect is AddressEffect.CLEAR


def test_a_hard_bounce_fails_at_once_and_quarantines_for_good() -> None:
    attempt = Attempt.hard(FailureReason.USER_UNKNOWN, "550 5.1.1 unknown")
    decision = decide(outgoing(), attempt, now=NOW, policy=POLICY)
    assert (decision.status, decision.log_status) == ("failed", LogStatus.FAILED)
    assert (decision.failure_type, decision.reason) == (FailureType.HARD, 1)
    assert decision.address is not None
    assert decision.address.effect is AddressEffect.QUARANTINE
    assert decision.address.expires_at is None
    assert decision.address.address == "ann@example.com"


@pytest.mark.parametrize(("tries", "wait"), [(1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0)])
def test_soft_bounces_are_retried_with_a_doubling_capped_backoff(tries: int, wait: float) -> None:
    attempt = Attempt.soft(FailureReason.UNREACHABLE, "421 try later")
    decision = decide(outgoing(tries=tries), attempt, now=NOW, policy=POLICY)
    assert (decision.status, decision.log_status, decision.final) == (
        "queued",
        LogStatus.PENDING,
        False,
    )
    assert decision.next_attempt_at == NOW + timedelta(seconds=wait)
    assert decision.address is not None
    assert decision.address.effect is AddressEffect.ERROR


@pytest.mark.parametrize(
    ("reason", "days"), [(FailureReason.MAILBOX_FULL, 30), (FailureReason.UNREACHABLE, 10)]
)
def test_the_last_soft_bounce_fails_and_quarantines_until_campaigns_release_date(
    reason: FailureReason, days: int
) -> None:
    decision = decide(outgoing(tries=5), Attempt.soft(reason, "452"), now=NOW, policy=POLICY)
    assert (decision.status, decision.log_status) == ("failed", LogStatus.FAILED)
    assert (decision.failure_type, decision.reason) == (FailureType.SOFT, int(reason))
    assert "after 5 tries" in decision.text
    assert decision.address is not None
    assert decision.address.effect is AddressEffect.QUARANTINE
    assert decision.address.expires_at == NOW + timedelta(days=days)


def test_quarantine_durations_are_settings() -> None:
    policy = RetryPolicy(max_tries=1, soft_days=1.0, mailbox_full_days=2.0)
    full = decide(outgoing(), Attempt.soft(FailureReason.MAILBOX_FULL, ""), now=NOW, policy=policy)
    assert full.address is not None and full.address.expires_at == NOW + timedelta(days=2)


def test_an_unreachable_relay_never_quarantines_the_recipient() -> None:
    attempt = qualify_unreachable("connection refused")
    retried = decide(outgoing(tries=1), attempt, now=NOW, policy=POLICY)
    assert retried.status == "queued" and retried.address is None
    last = decide(outgoing(tries=5), attempt, now=NOW, policy=POLICY)
    assert last.status == "failed" and last.address is None


def test_an_address_in_quarantine_is_ignored_with_reason_9() -> None:
    decision = decide_ignored(outgoing())
    assert (decision.status, decision.log_status, decision.final) == (
        "ignored",
        LogStatus.IGNORED,
        True,
    )
    assert decision.reason == 9
    assert decision.failure_type is FailureType.HARD
    assert "Address in quarantine" in decision.text
    assert decision.address is None
