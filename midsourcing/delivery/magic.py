"""Magic recipients: addresses whose outcome is known in advance, for tests (DESIGN §5).

| recipient | outcome |
|---|---|
| email tagged ``+hard`` (``ann+hard@example.com``) | hard bounce, 1 User unknown; quarantined |
| ``+soft`` | soft bounce, 5 Mailbox full, on every try; failed after the last try; quarantined |
| ``+softonce`` | soft bounce (5 Mailbox full) on the first try, sent on the retry |
| ``+delay=3s`` (also ``500ms``, ``2m``; at most 1 h) | sent that long after it was accepted |
| any address at a domain ending ``.invalid`` | soft bounce, 2 Invalid domain, on every try |
| SMS number ending ``0000`` | soft bounce, 3 Unreachable, on every try |
| push token beginning ``invalid`` | hard bounce, 1 User unknown (unregistered device) |

Tags combine (``ann+delay=2s+softonce@example.com``). Magic recipients win over the SMTP relay
and over chaos: their failures are decided before anything is sent, so the relay never sees
them; a delayed or ``+softonce`` message goes to the relay like any other once it is due.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from midsourcing.delivery.reasons import Attempt, FailureReason

__all__ = ["MAX_DELAY_SECONDS", "Magic", "MagicKind", "parse_magic"]

#: The longest ``+delay=`` honoured.
MAX_DELAY_SECONDS = 3600.0
_DELAY = re.compile(r"delay=(\d+(?:\.\d+)?)(ms|s|m)?", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}


class MagicKind(enum.Enum):
    """What a magic recipient does to each try."""

    HARD = "hard"
    SOFT = "soft"
    SOFT_ONCE = "softonce"
    INVALID_DOMAIN = "invalid-domain"
    UNREACHABLE = "unreachable"
    UNREGISTERED = "unregistered"


@dataclass(frozen=True, slots=True)
class Magic:
    """The magic of one recipient: a delay before the first try, and a forced outcome."""

    kind: MagicKind | None = None
    delay: float = 0.0

    def attempt(self, *, recipient: str, try_number: int) -> Attempt | None:
        """Return the forced outcome of try ``try_number`` (1-based), or None to deliver."""
        kind = self.kind
        if kind is None or (kind is MagicKind.SOFT_ONCE and try_number > 1):
            return None
        if kind is MagicKind.HARD:
            return Attempt.hard(
                FailureReason.USER_UNKNOWN,
                f"550 5.1.1 <{recipient}>: Recipient address rejected: User unknown "
                "(mcsim magic recipient +hard)",
            )
        if kind in {MagicKind.SOFT, MagicKind.SOFT_ONCE}:
            return Attempt.soft(
                FailureReason.MAILBOX_FULL,
                f"452 4.2.2 <{recipient}>: Mailbox full (mcsim magic recipient +{kind.value})",
            )
        if kind is MagicKind.INVALID_DOMAIN:
            domain = recipient.rpartition("@")[2]
            return Attempt.soft(
                FailureReason.INVALID_DOMAIN,
                f"Invalid domain: {domain} does not exist (mcsim magic domain .invalid)",
            )
        if kind is MagicKind.UNREACHABLE:
            return Attempt.soft(
                FailureReason.UNREACHABLE,
                f"Unreachable: {recipient} is not reachable (mcsim magic number ending 0000)",
            )
        return Attempt.hard(
            FailureReason.USER_UNKNOWN,
            "Unregistered device: the push token is not registered "
            "(mcsim magic token beginning 'invalid')",
        )


NO_MAGIC = Magic()


def parse_magic(channel: str, recipient: str) -> Magic:
    """Return the magic of ``recipient`` on ``channel`` (no magic for ordinary recipients)."""
    if channel == "email":
        return _email_magic(recipient.strip())
    if channel == "sms":
        digits = recipient.strip()
        return Magic(MagicKind.UNREACHABLE) if digits.endswith("0000") else NO_MAGIC
    if channel in {"ios", "android"}:
        unregistered = recipient.strip().lower().startswith("invalid")
        return Magic(MagicKind.UNREGISTERED) if unregistered else NO_MAGIC
    return NO_MAGIC


def _email_magic(address: str) -> Magic:
    local, at, domain = address.rpartition("@")
    if not at:
        return NO_MAGIC
    kind: MagicKind | None = None
    delay = 0.0
    tags = local.split("+")[1:]
    for tag in (t.strip().lower() for t in tags):
        match = _DELAY.fullmatch(tag)
        if match is not None:
            delay = min(MAX_DELAY_SECONDS, float(match.group(1)) * _UNITS[match.group(2) or "s"])
        elif tag in {"hard", "soft", "softonce"}:
            kind = MagicKind(tag)
    if domain.strip().rstrip(".").lower().endswith(".invalid"):
        kind = MagicKind.INVALID_DOMAIN
    return Magic(kind, delay) if kind or delay else NO_MAGIC
