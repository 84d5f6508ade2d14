"""Turn the outcome of one try into the message's next state, its log and its address change.

- delivered → ``sent`` (final); the address's soft-error record is cleared ("after a success");
- hard bounce → ``failed`` (final); the address is quarantined without an end date;
- soft bounce with tries left → queued again after a backoff that doubles at each try, a
  ``pending`` log, and one more error on the address;
- the last soft bounce → ``failed`` (final); the address is quarantined until 10 days after that
  bounce (30 days for Mailbox full), as Campaign releases "With errors" addresses;
- an address in quarantine → ``ignored`` (final), reason 9, nothing sent.

Failures that are not the recipient's doing (the relay cannot be reached) never quarantine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.reasons import Attempt, FailureReason
from midsourcing.quarantine.addresses import AddressChange, AddressEffect
from services.delivery_protocol import FailureType, LogStatus

__all__ = ["Decision", "RetryPolicy", "decide", "decide_ignored"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How soft bounces are retried and how long quarantines last."""

    max_tries: int = 5
    retry_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    soft_days: float = 10.0
    mailbox_full_days: float = 30.0

    def backoff(self, try_number: int) -> float:
        """Return the wait after the soft bounce of try ``try_number`` (1-based)."""
        return min(self.retry_max_seconds, self.retry_seconds * 2.0 ** (try_number - 1))


@dataclass(frozen=True, slots=True)
class Decision:
    """The next state of a message after one try."""

    status: str  # queued (retried), sent, failed or ignored
    log_status: LogStatus
    failure_type: FailureType
    reason: int
    text: str
    next_attempt_at: datetime | None
    address: AddressChange | None

    @property
    def final(self) -> bool:
        """Return whether the message is finished."""
        return self.status != "queued"


def decide(item: Outgoing, attempt: Attempt, *, now: datetime, policy: RetryPolicy) -> Decision:
    """Return what follows try ``item.tries`` of ``item`` that ended with ``attempt``."""

    def change(effect: AddressEffect, expires: datetime | None = None) -> AddressChange | None:
        """Return the address change, unless the failure was not the recipient's doing."""
        if effect is not AddressEffect.CLEAR and not attempt.address_fault:
            return None
        return AddressChange(
            effect,
            item.channel,
            item.recipient,
            now,
            attempt.failure_type,
            int(attempt.reason),
            attempt.text,
            expires,
        )

    if attempt.delivered:
        return Decision(
            "sent",
            LogStatus.SENT,
            FailureType.NONE,
            0,
            attempt.text,
            None,
            change(AddressEffect.CLEAR),
        )
    if attempt.failure_type is FailureType.HARD:
        return Decision(
            "failed",
            LogStatus.FAILED,
            FailureType.HARD,
            int(attempt.reason),
            attempt.text,
            None,
            change(AddressEffect.QUARANTINE),
        )
    days = (
        policy.mailbox_full_days
        if attempt.reason is FailureReason.MAILBOX_FULL
        else policy.soft_days
    )
    expires = now + timedelta(days=days)
    if item.tries < policy.max_tries:
        retry_at = now + timedelta(seconds=policy.backoff(item.tries))
        return Decision(
            "queued",
            LogStatus.PENDING,
            FailureType.SOFT,
            int(attempt.reason),
            attempt.text,
            retry_at,
            change(AddressEffect.ERROR, expires),
        )
    return Decision(
        "failed",
        LogStatus.FAILED,
        FailureType.SOFT,
        int(attempt.reason),
        f"{attempt.text} (after {item.tries} tries)",
        None,
        change(AddressEffect.QUARANTINE, expires),
    )


def decide_ignored(item: Outgoing) -> Decision:
    """Return the outcome of a message whose address is in quarantine: ignored, reason 9."""
    reason = FailureReason.QUARANTINE
    text = f"{reason.label}: {item.recipient} is quarantined; nothing was sent"
    return Decision("ignored", LogStatus.IGNORED, FailureType.HARD, int(reason), text, None, None)
