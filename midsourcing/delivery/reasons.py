"""Campaign's failure reasons and the outcome of one delivery try (campaign-facts §5.6)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.delivery_protocol import FailureType

__all__ = ["Attempt", "FailureReason"]


class FailureReason(enum.IntEnum):
    """``msg/@failureReason``: Campaign's technical values."""

    NOT_DEFINED = 0
    USER_UNKNOWN = 1
    INVALID_DOMAIN = 2
    UNREACHABLE = 3
    ACCOUNT_DISABLED = 4
    MAILBOX_FULL = 5
    NOT_CONNECTED = 6
    ADDRESS_NOT_SPECIFIED = 7
    DENYLISTED = 8
    QUARANTINE = 9
    DOUBLE = 10
    EXCLUDED_BY_RULE = 11
    EXCLUDED_AFTER_ARBITRATION = 12
    BAD_QUALITY = 14
    UNQUALIFIED = 15
    NOT_ELIGIBLE = 16
    TARGET_LIMITED = 17
    REFUSED = 20
    ERROR_IGNORED = 25
    CONTROL_ADDRESS = 127

    @property
    def label(self) -> str:
        """Return the label the Campaign console shows."""
        return _LABELS[self]

    @property
    def usual_type(self) -> FailureType:
        """Return the type Campaign gives this reason when nothing says otherwise."""
        return _TYPES.get(self, FailureType.IGNORED)


_LABELS = {
    FailureReason.NOT_DEFINED: "Not defined",
    FailureReason.USER_UNKNOWN: "User unknown",
    FailureReason.INVALID_DOMAIN: "Invalid domain",
    FailureReason.UNREACHABLE: "Unreachable",
    FailureReason.ACCOUNT_DISABLED: "Account disabled",
    FailureReason.MAILBOX_FULL: "Mailbox full",
    FailureReason.NOT_CONNECTED: "Not connected",
    FailureReason.ADDRESS_NOT_SPECIFIED: "Address not specified",
    FailureReason.DENYLISTED: "Denylisted address",
    FailureReason.QUARANTINE: "Address in quarantine",
    FailureReason.DOUBLE: "Double",
    FailureReason.EXCLUDED_BY_RULE: "Excluded by a SQL rule",
    FailureReason.EXCLUDED_AFTER_ARBITRATION: "Excluded after arbitration",
    FailureReason.BAD_QUALITY: "Bad-quality address",
    FailureReason.UNQUALIFIED: "Unqualified address",
    FailureReason.NOT_ELIGIBLE: "Not eligible for the offers",
    FailureReason.TARGET_LIMITED: "Target limited in size",
    FailureReason.REFUSED: "Refused",
    FailureReason.ERROR_IGNORED: "Error ignored",
    FailureReason.CONTROL_ADDRESS: "Control address",
}

# "Soft / Hard" reasons of Campaign's table count as soft unless the cause says hard.
_TYPES = {
    FailureReason.NOT_DEFINED: FailureType.NONE,
    FailureReason.USER_UNKNOWN: FailureType.HARD,
    FailureReason.INVALID_DOMAIN: FailureType.SOFT,
    FailureReason.UNREACHABLE: FailureType.SOFT,
    FailureReason.ACCOUNT_DISABLED: FailureType.SOFT,
    FailureReason.MAILBOX_FULL: FailureType.SOFT,
    FailureReason.ADDRESS_NOT_SPECIFIED: FailureType.HARD,
    FailureReason.DENYLISTED: FailureType.HARD,
    FailureReason.QUARANTINE: FailureType.HARD,
    FailureReason.REFUSED: FailureType.SOFT,
}


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one try: delivered, or bounced with a type and a reason.

    ``address_fault`` is False when the failure is not the recipient's doing (the relay cannot
    be reached): such a failure is retried but never quarantines the address.
    """

    delivered: bool
    failure_type: FailureType = FailureType.NONE
    reason: FailureReason = FailureReason.NOT_DEFINED
    text: str = ""
    address_fault: bool = True

    @classmethod
    def sent(cls, text: str) -> Attempt:
        """Return a delivered try."""
        return cls(True, text=text)

    @classmethod
    def hard(cls, reason: FailureReason, text: str) -> Attempt:
        """Return a hard bounce: final, and the address goes into quarantine."""
        return cls(False, FailureType.HARD, reason, text)

    @classmethod
    def soft(cls, reason: FailureReason, text: str) -> Attempt:
        """Return a soft bounce: tried again until the tries run out."""
        return cls(False, FailureType.SOFT, reason, text)

    @classmethod
    def bounce(cls, reason: FailureReason, text: str, kind: FailureType | None = None) -> Attempt:
        """Return a bounce of ``kind``, or of the reason's usual type."""
        chosen = kind or reason.usual_type
        hard = chosen is FailureType.HARD
        return cls(False, FailureType.HARD if hard else FailureType.SOFT, reason, text)
