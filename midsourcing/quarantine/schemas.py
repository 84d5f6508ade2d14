"""JSON shapes of the quarantine API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = ["AddressPage", "AddressPublic", "ReleaseResult"]


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class AddressPublic(_Camel):
    """An address with delivery errors, or in quarantine."""

    address: str
    channel: str
    status: str = Field(description="quarantine, or withErrors (soft errors, still sent to).")
    failure_type: str
    failure_reason: int
    failure_label: str
    error_count: int
    text: str = Field(description="The last error.")
    first_error_at: datetime
    last_error_at: datetime
    expires_at: datetime | None = Field(
        description="When it is released by itself (none: only through this API)."
    )


class AddressPage(_Camel):
    """A page of addresses, the latest errors first."""

    total: int
    offset: int
    limit: int
    addresses: list[AddressPublic]


class ReleaseResult(_Camel):
    """How many addresses were released."""

    released: int
