"""How an address is recognised: normalised per channel, and keyed by a digest."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from services.delivery_protocol import FailureType

__all__ = [
    "AddressChange",
    "AddressEffect",
    "AddressStatus",
    "address_digest",
    "address_kind",
    "normalize_address",
]

_PHONE_NOISE = re.compile(r"[\s().-]")


class AddressStatus(enum.StrEnum):
    """Campaign's address statuses kept by mcsim (a valid address has no row)."""

    WITH_ERRORS = "withErrors"
    QUARANTINE = "quarantine"


class AddressEffect(enum.Enum):
    """What an outcome does to its address."""

    CLEAR = "clear"  # a success: forget the errors of an address that is not quarantined
    ERROR = "error"  # a soft bounce that will be retried: count it
    QUARANTINE = "quarantine"  # a hard bounce, or the last soft bounce


@dataclass(frozen=True, slots=True)
class AddressChange:
    """One change to apply to an address when an outcome is recorded."""

    effect: AddressEffect
    channel: str
    address: str
    at: datetime
    failure_type: FailureType = FailureType.NONE
    reason: int = 0
    text: str = ""
    expires_at: datetime | None = None

    @property
    def digest(self) -> str:
        """Return the key of the address."""
        return address_digest(self.channel, self.address)


def address_kind(channel: str) -> str:
    """Return the kind of address a channel uses: email, sms or push."""
    return "push" if channel in {"ios", "android"} else channel


def normalize_address(channel: str, address: str) -> str:
    """Return ``address`` as compared for quarantine (emails lower-cased, phones bare)."""
    kind = address_kind(channel)
    if kind == "email":
        return address.strip().lower()
    if kind == "sms":
        return _PHONE_NOISE.sub("", address)
    return address.strip()


def address_digest(channel: str, address: str) -> str:
    """Return the key of an address: a SHA-256 of its kind and normalised form."""
    value = f"{address_kind(channel)}:{normalize_address(channel, address)}"
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
