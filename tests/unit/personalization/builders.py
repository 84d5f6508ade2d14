"""Builders of test data for the personalization engine."""

from __future__ import annotations

import itertools

from services.personalization import EventData

_names = itertools.count(1)


def make_event(ctx: str | None = None, **attributes: str) -> EventData:
    """Build an event with sensible default attributes and the given ctx XML."""
    defaults = {"type": "TEST_EVENT", "email": "ann@example.com"}
    return EventData(attributes={**defaults, **attributes}, ctx=ctx)


def unique_name(prefix: str = "test") -> str:
    """Return a template name no other test uses."""
    return f"{prefix}-{next(_names)}"
