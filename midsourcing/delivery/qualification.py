"""Qualify what an SMTP relay answered as Campaign's MTA does (campaign-facts §5.6).

| reply | type | reason |
|---|---|---|
| 2xx | sent | |
| 550, 551, 553, or an enhanced code 5.1.1 / 5.1.0 / 5.1.6 / 5.1.10 | hard | 1 User unknown |
| enhanced 5.1.2 (bad destination domain) | hard | 2 Invalid domain |
| enhanced 5.2.1 (mailbox disabled) | hard | 4 Account disabled |
| enhanced 5.7.x (policy, spam) and any other 5xx | hard | 20 Refused |
| 552, 452, or an enhanced code x.2.2 | soft | 5 Mailbox full |
| 450, or an enhanced code 4.7.x (greylisting, policy) | soft | 20 Refused |
| 421, 451 and any other 4xx | soft | 3 Unreachable |
| no answer: connection refused or lost, timeout, TLS failure | soft | 3 Unreachable |
| session refused: greeting, EHLO, AUTH or MAIL FROM | soft | 3 Unreachable |

The last two are mcsim's own trouble with its relay, not the recipient's: they are retried but
never quarantine the address. Replies to RCPT TO and DATA are the recipient's.

An enhanced status code (RFC 3463) in the reply text wins over the basic code.
"""

from __future__ import annotations

import re

from midsourcing.delivery.reasons import Attempt, FailureReason
from services.delivery_protocol import FailureType

__all__ = ["qualify_smtp_reply", "qualify_unreachable"]

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_USER_UNKNOWN_SUBJECTS = {(1, 0), (1, 1), (1, 6), (1, 10)}


def _enhanced(message: str) -> tuple[int, int, int] | None:
    found = _ENHANCED.search(message)
    if found is None:
        return None
    klass, subject, detail = (int(part) for part in found.groups())
    return klass, subject, detail


def qualify_smtp_reply(code: int, message: str) -> Attempt:
    """Return the outcome of an SMTP reply ``code`` with its text."""
    text = f"{code} {message}".strip()
    if 200 <= code < 300:
        return Attempt.sent(text)
    enhanced = _enhanced(message)
    subject = (enhanced[1], enhanced[2]) if enhanced else None
    if code == 552 or code == 452 or subject == (2, 2):
        return Attempt.soft(FailureReason.MAILBOX_FULL, text)
    if 500 <= code < 600:
        return Attempt.hard(_permanent_reason(code, subject), text)
    if 400 <= code < 500:
        if code == 450 or (subject is not None and subject[0] == 7):
            return Attempt.soft(FailureReason.REFUSED, text)
        return Attempt.soft(FailureReason.UNREACHABLE, text)
    return Attempt.soft(FailureReason.UNREACHABLE, text)


def _permanent_reason(code: int, subject: tuple[int, int] | None) -> FailureReason:
    if subject is not None:
        if subject in _USER_UNKNOWN_SUBJECTS:
            return FailureReason.USER_UNKNOWN
        if subject == (1, 2):
            return FailureReason.INVALID_DOMAIN
        if subject == (2, 1):
            return FailureReason.ACCOUNT_DISABLED
        if subject[0] == 7:
            return FailureReason.REFUSED
    if code in {550, 551, 553}:
        return FailureReason.USER_UNKNOWN
    return FailureReason.REFUSED


def qualify_unreachable(cause: str) -> Attempt:
    """Return the outcome of a relay that could not be reached or stopped answering."""
    return Attempt(
        False,
        FailureType.SOFT,
        FailureReason.UNREACHABLE,
        f"Unreachable: {cause}",
        address_fault=False,
    )
