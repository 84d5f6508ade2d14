"""XTK datetimes, Campaign's wire format for dates: ``2026-11-28 10:00:00.000Z`` (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.clock import utc_now

__all__ = ["format_xtk", "xtk_now"]


def format_xtk(moment: datetime) -> str:
    """Return ``moment`` as an XTK datetime string in UTC, to the millisecond."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def xtk_now() -> str:
    """Return the current time as an XTK datetime string."""
    return format_xtk(utc_now())
