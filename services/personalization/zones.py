"""Time zone tables for ``formatDate(date, format, timeZone)``.

QuickJS has no time zone database and a render cannot call back into Python (the binding
refuses it under a time limit), so the engine hands the sandbox a table of a zone's UTC offsets
before the render that needs it. Tables come from :mod:`zoneinfo` (the system's tz database),
sampled weekly from 1900 to 2100 and refined to the second at every change.
"""

from __future__ import annotations

import datetime
import json
import zoneinfo
from functools import lru_cache

__all__ = ["zone_table"]

_START = int(datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC).timestamp())
_END = int(datetime.datetime(2101, 1, 1, tzinfo=datetime.UTC).timestamp())
_STEP = 7 * 86400
_EARLIEST_MS = -8_640_000_000_000_000  # the smallest JavaScript Date
_MAX_NAME = 64


@lru_cache(maxsize=128)
def zone_table(name: str) -> str | None:
    """Return the JSON offset table of time zone ``name``, or None when it does not exist."""
    if not name or len(name) > _MAX_NAME:
        return None
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # bad key, unknown zone, a folder of zones
        return None

    def offset(seconds: int) -> float:
        instant = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).astimezone(zone)
        delta = instant.utcoffset()
        return 0.0 if delta is None else delta.total_seconds() / 60

    current = offset(_START)
    times, offsets = [_EARLIEST_MS], [current]
    moment = _START
    while moment < _END:
        following = min(moment + _STEP, _END)
        changed = offset(following)
        if changed == current:
            moment = following
            continue
        before, after = moment, following
        while after - before > 1:
            middle = (before + after) // 2
            if offset(middle) == current:
                before = middle
            else:
                after = middle
        current = offset(after)
        times.append(after * 1000)
        offsets.append(current)
        moment = after
    return json.dumps({"t": times, "o": offsets}, separators=(",", ":"))
