"""Dates on the wire: XTK datetimes (``2026-11-28 10:00:00.000Z``) and ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from services.xtk import format_xtk

__all__ = ["format_xtk", "parse_wire_date"]

_XTK = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})"  # date and time
    r"(?::(\d{2})(?:\.(\d{1,6}))?)?"  # seconds and fraction
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"  # zone
)


def parse_wire_date(text: str) -> datetime:
    """Return the UTC datetime of an XTK or ISO 8601 string; a date without zone is UTC.

    Raises ValueError with a message that shows the accepted forms.
    """
    value = text.strip()
    match = _XTK.match(value)
    if match is None:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            value += "T00:00:00"
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{text!r} is not a date: use 'YYYY-MM-DD HH:MM:SS.mmmZ' or ISO 8601"
            ) from None
    else:
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        iso = f"{year}-{month}-{day}T{hour}:{minute}:{second or '00'}"
        if fraction:
            iso += "." + fraction.ljust(6, "0")
        if zone and zone != "Z":
            iso += zone if ":" in zone else zone[:3] + ":" + zone[3:]
        try:
            parsed = datetime.fromisoformat(iso)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a valid date: {exc}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
