"""Wire schemas of the archive: archived events and the outcome of an archiving pass."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

__all__ = ["ArchiveOutcome", "ArchivedEventDetail", "ArchivedEventPublic"]

#: Event statuses of DESIGN §3.5: number → REST name.
STATUS_NAMES = {
    0: "pending",
    1: "processing",
    2: "processed",
    3: "ignored",
    4: "deliveryFailed",
    5: "routingFailed",
    6: "tooOld",
    7: "paused",
}


class ArchivedEventPublic(BaseModel):
    """One archived event in the history list."""

    pl_id: int
    instance_id: int
    account_id: int | None
    queue: str
    event_type: str
    channel: int
    status: int
    status_name: str
    email: str | None
    mobile_phone: str | None
    external_id: str | None
    created_at: datetime
    processing_at: datetime | None
    processed_at: datetime | None
    updated_at: datetime
    error_count: int
    failure_reason: int | None
    error_text: str | None
    template_name: str | None
    template_version: int | None
    delivery_part: str | None


class ArchivedEventDetail(ArchivedEventPublic):
    """One archived event with the event document as received (its ctx included)."""

    document: str
    archived_at: datetime


class ArchiveOutcome(BaseModel):
    """What one archiving pass did on one execution instance."""

    account_id: int
    name: str
    ok: bool
    archived: int
    read: int = Field(0, description="Events the pass read (new, changed, or read again).")
    error: str | None = None
    cursor: str
