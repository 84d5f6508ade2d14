"""Wire shapes of event types."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from control_instance.fanout import InstanceOutcome

__all__ = ["EventTypeChange", "EventTypeCreate", "EventTypePublic", "EventTypeUpdate"]

#: Campaign's event types are enumeration values: letters, digits and underscores.
EVENT_TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"


class EventTypeCreate(BaseModel):
    """A new event type."""

    name: str = Field(pattern=EVENT_TYPE_PATTERN, examples=["PASSWORD_RESET"])
    label: str = Field("", max_length=255)


class EventTypeUpdate(BaseModel):
    """A new label."""

    label: str = Field(max_length=255)


class EventTypePublic(BaseModel):
    """An event type."""

    id: int
    name: str
    label: str
    templates: int = Field(description="How many templates use it.")
    created_at: datetime
    updated_at: datetime


class EventTypeChange(BaseModel):
    """An event type after a change, and how each execution instance took it."""

    event_type: EventTypePublic | None
    complete: bool
    instances: list[InstanceOutcome]
