"""What the operations pages share: reading forms into API schemas, and answering a change.

A change is posted by htmx (it gets back a fragment and, out of band, a message for ``#flash``)
or by a plain form when scripts are off (it gets a redirect back to the page).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from control_instance.console.deps import User
from control_instance.console.rendering import page, redirect
from control_instance.console.views.templates_forms import parse_form
from services.errors import InvalidRequest
from services.ui import is_htmx

__all__ = ["answer_change", "blank", "optional_int", "optional_time", "validated"]

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], data: dict[str, Any]) -> M:
    """Return ``data`` read as ``model``, or an InvalidRequest that names each wrong field."""
    return parse_form(model, **data)


def blank(value: str | None) -> str | None:
    """Return ``value`` stripped, or None when a form left it empty."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def optional_int(
    value: str | None,
    field: str,
    *,
    low: int = 0,
    high: int = 2**63 - 1,
    words: str | None = None,
) -> int | None:
    """Return a form's number, None when empty; refuse what is not a number in range, in plain
    words (``words`` when given) for the field."""
    text = blank(value)
    if text is None:
        return None
    try:
        number = int(text)
    except ValueError:
        raise InvalidRequest(words or "Enter a whole number.", field=field) from None
    if not low <= number <= high:
        raise InvalidRequest(words or f"Enter a number from {low} to {high}.", field=field)
    return number


def optional_time(value: str | None, field: str) -> datetime | None:
    """Return a form's date and time (``datetime-local`` values are UTC), None when empty."""
    text = blank(value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            "Enter a date and time, such as 2026-11-28T10:00 (UTC).", field=field
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def answer_change(
    request: Request,
    user: User,
    *,
    fragment: str,
    message: str,
    back: str,
    kind: str = "ok",
    **context: Any,
) -> Response:
    """Answer a change: htmx gets ``fragment`` and the message in ``#flash``; a form, ``back``."""
    if not is_htmx(request):
        return redirect(request, back)
    return page(request, fragment, user, flash_message=message, flash_kind=kind, **context)
