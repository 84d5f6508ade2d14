"""Report periods: the SQL key of an event's period, and the bounds of a period key."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func

__all__ = ["Interval", "hours_in", "period_bounds", "period_key", "seconds_between"]


class Interval(enum.StrEnum):
    """How a report groups events in time."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


_SQLITE = {Interval.HOUR: "%Y-%m-%dT%H:00", Interval.DAY: "%Y-%m-%d", Interval.MONTH: "%Y-%m"}
_POSTGRES = {
    Interval.HOUR: 'YYYY-MM-DD"T"HH24:00',
    Interval.DAY: "YYYY-MM-DD",
    Interval.MONTH: "YYYY-MM",
}
_PARSE = {Interval.HOUR: "%Y-%m-%dT%H:%M", Interval.DAY: "%Y-%m-%d", Interval.MONTH: "%Y-%m"}


def period_key(column: Any, interval: Interval, *, postgres: bool) -> ColumnElement[str]:
    """Return the SQL expression naming the UTC period of a timestamp (``2026-11-28``)."""
    if postgres:
        return func.to_char(func.timezone("UTC", column), _POSTGRES[interval])
    return func.strftime(_SQLITE[interval], column)


def seconds_between(later: Any, earlier: Any, *, postgres: bool) -> ColumnElement[Any]:
    """Return the SQL expression of the seconds from ``earlier`` to ``later``."""
    if postgres:
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def period_bounds(key: str, interval: Interval) -> tuple[datetime, datetime]:
    """Return the start and end (exclusive) of the period a key names."""
    start = datetime.strptime(key, _PARSE[interval]).replace(tzinfo=UTC)
    if interval is Interval.HOUR:
        return start, start + timedelta(hours=1)
    if interval is Interval.DAY:
        return start, start + timedelta(days=1)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start, start.replace(year=year, month=month)


def hours_in(start: datetime, end: datetime, since: datetime, until: datetime) -> float:
    """Return the hours of ``[start, end)`` inside the report's ``[since, until)``."""
    seconds = (min(end, until) - max(start, since)).total_seconds()
    return max(seconds, 0.0) / 3600
