"""The stack's clock: real time plus an offset that development and test stacks move (issue 16).

Everything in mcsim that depends on the time of day reads it here (:func:`utc_now`,
:func:`unix_time`): scheduled events becoming due, expirations and validity, soft-bounce
retries, quarantine, sessions and tokens, purges. Durations measured for their own sake (timeouts,
caches, throttles, latency) keep using ``time.monotonic``; leases are stored as dates, and the
services move the live ones with the clock so that they keep their real length.

The offset is only ever ahead of real time (``>= 0``): a virtual clock that runs backwards would
make leases and retries taken in its future hold for real hours. Each service stores its offset
in its own database (``service_meta``, key :data:`OFFSET_KEY`), so that it survives a restart
of the service, and keeps it in memory for this process (:data:`clock`). The control instance
moves every service of the cell at once (``mcsim clock``); production refuses to move.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from services.errors import Forbidden, InvalidRequest
from services.settings import Environment

if TYPE_CHECKING:
    from sqlalchemy.sql.expression import TableClause

    from services.db import Database

__all__ = [
    "MAX_OFFSET",
    "OFFSET_KEY",
    "ClockChange",
    "ClockMove",
    "ClockReport",
    "VirtualClock",
    "clock",
    "describe_offset",
    "load_offset",
    "move_clock",
    "parse_duration",
    "read_offset",
    "real_now",
    "refuse_in_production",
    "store_offset",
    "unix_time",
    "utc_now",
]

#: The ``service_meta`` key under which a service keeps its offset, in milliseconds.
OFFSET_KEY = "clock_offset_ms"
#: How far ahead the clock may run (ten years: far beyond any retention or validity).
MAX_OFFSET = timedelta(days=3650)

_UNITS = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|w|d|h|m|s)")


class VirtualClock:
    """Real UTC time plus this process's offset (zero unless a test stack moved it)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    @property
    def offset(self) -> timedelta:
        """How far ahead of real time this process's clock runs."""
        return self._offset

    def now(self) -> datetime:
        """Return the stack's current time (aware, UTC)."""
        return datetime.now(UTC) + self._offset

    def time(self) -> float:
        """Return the stack's current time as a Unix timestamp."""
        return self.now().timestamp()

    def apply(self, offset: timedelta) -> bool:
        """Use ``offset`` from now on; return whether it changed."""
        changed = offset != self._offset
        self._offset = offset
        return changed


#: The clock of this process (every service of mcsim runs in processes of its own).
clock = VirtualClock()


def utc_now() -> datetime:
    """Return the stack's current time (aware, UTC): real time plus the virtual offset."""
    return clock.now()


def real_now() -> datetime:
    """Return the real time (aware, UTC), whatever the virtual clock says."""
    return datetime.now(UTC)


def unix_time() -> float:
    """Return the stack's current time as a Unix timestamp (tokens' ``iat`` and ``exp``)."""
    return clock.time()


def parse_duration(text: str) -> timedelta:
    """Parse ``2h``, ``90m``, ``1d 6h``, ``45s``, ``1w``, ``250ms`` or a number of seconds."""
    spec = text.strip().lower()
    try:
        seconds = float(spec)
        if math.isnan(seconds):
            raise ValueError(spec)
    except ValueError:
        parts = list(_PART.finditer(spec))
        if not parts or _PART.sub("", spec).replace(" ", "") != "":
            raise InvalidRequest(
                f"{text!r} is not a duration: write it as 2h, 90m, 1d 6h, 45s, 1w or seconds",
                field="advance",
            ) from None
        seconds = sum(float(p.group(1)) * _UNITS[p.group(2)] for p in parts)
    if not seconds <= MAX_OFFSET.total_seconds():  # infinities too
        raise InvalidRequest(
            f"{text!r} is too long: the clock can run at most {MAX_OFFSET.days} days ahead "
            "of real time",
            field="advance",
        )
    return timedelta(seconds=seconds)


def describe_offset(seconds: float) -> str:
    """Return an offset as people read it: ``real time``, ``+2h``, ``+1d 6h 30m``, ``+45s``."""
    if seconds <= 0:
        return "real time"
    left = round(seconds)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return "+" + " ".join(parts or ["0s"])


class ClockChange(BaseModel):
    """How to move the clock: exactly one of ``advance``, ``to``, ``offsetSeconds``, ``reset``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    advance: str | None = Field(
        None,
        max_length=64,
        description="Move forward by this much: 2h, 90m, 1d 6h, 45s.",
        examples=["2h"],
    )
    to: AwareDatetime | None = Field(
        None, description="Make this the current time (with its zone; not before real time)."
    )
    offset_seconds: float | None = Field(
        None,
        ge=0,
        le=MAX_OFFSET.total_seconds(),
        description="Run this many seconds ahead of real time.",
    )
    reset: bool = Field(False, description="Go back to real time.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ClockChange:
        given = [self.advance is not None, self.to is not None, self.offset_seconds is not None]
        if sum(given) + int(self.reset) != 1:
            raise ValueError("give exactly one of advance, to, offsetSeconds or reset")
        return self

    def offset_from(self, current: timedelta, *, real_now: datetime) -> timedelta:
        """Return the offset this change makes from ``current`` (checked: ahead, bounded)."""
        if self.reset:
            return timedelta(0)
        if self.advance is not None:
            step = parse_duration(self.advance)
            if step <= timedelta(0):
                raise InvalidRequest("advance the clock by more than zero", field="advance")
            offset = current + step
        elif self.to is not None:
            offset = self.to.astimezone(UTC) - real_now
            if offset < timedelta(0):
                raise InvalidRequest(
                    f"{self.to.isoformat()} is before the real time ({real_now.isoformat()}): "
                    "the clock only runs ahead of real time (reset goes back to it)",
                    field="to",
                )
        else:
            offset = timedelta(seconds=self.offset_seconds or 0.0)
        if offset > MAX_OFFSET:
            raise InvalidRequest(
                f"the clock can run at most {MAX_OFFSET.days} days ahead of real time",
                field="advance" if self.advance is not None else "to",
            )
        # Whole milliseconds: what the services store and tell each other.
        return timedelta(milliseconds=round(offset.total_seconds() * 1000))


class ClockReport(BaseModel):
    """A service's clock."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    now: datetime = Field(description="The service's current time (real time plus the offset).")
    real_now: datetime = Field(description="The real time.")
    offset_seconds: float = Field(description="How far ahead of real time the clock runs.")
    moved: bool = Field(description="Whether the clock runs ahead of real time.")

    @classmethod
    def read(cls) -> ClockReport:
        """Report this process's clock."""
        offset = clock.offset
        real = datetime.now(UTC)
        return cls(
            now=real + offset,
            real_now=real,
            offset_seconds=offset.total_seconds(),
            moved=offset > timedelta(0),
        )


@dataclass(frozen=True)
class ClockMove:
    """A change applied to one service: its clock before and after."""

    before: timedelta
    after: timedelta


def refuse_in_production(environment: Environment) -> None:
    """Raise Forbidden in production: the virtual clock is for development and tests."""
    if environment is Environment.PRODUCTION:
        raise Forbidden(
            "moving the clock is refused in production",
            detail="the virtual clock exists for development and test stacks",
        )


def load_offset(db: Database, *, environment: Environment) -> bool:
    """Read the stored offset into this process's clock; return whether it changed.

    Production always runs on real time, whatever a database used before says.
    """
    if environment is Environment.PRODUCTION:
        return clock.apply(timedelta(0))
    return clock.apply(read_offset(db))


def read_offset(db: Database) -> timedelta:
    """Return the offset stored in the service's database (zero when none is)."""
    meta = _service_meta()
    with db.transaction() as session:
        value = session.execute(
            meta.select().with_only_columns(meta.c.value).where(meta.c.key == OFFSET_KEY)
        ).scalar()
    try:
        milliseconds = max(0, int(value)) if value is not None else 0
    except ValueError:
        milliseconds = 0
    return timedelta(milliseconds=milliseconds)


def store_offset(db: Database, offset: timedelta) -> None:
    """Store ``offset`` as the service's clock (then :func:`load_offset` in every process)."""
    value = str(round(offset.total_seconds() * 1000))
    meta = _service_meta()
    with db.transaction(write=True) as session:
        changed = session.execute(meta.update().where(meta.c.key == OFFSET_KEY).values(value=value))
        if not getattr(changed, "rowcount", 0):
            session.execute(meta.insert().values(key=OFFSET_KEY, value=value))


@functools.cache
def _service_meta() -> TableClause:
    # Imported here: the load balancer reads the clock but has no database (nor SQLAlchemy).
    from sqlalchemy import String, column, table

    return table("service_meta", column("key", String), column("value", String))


def move_clock(db: Database, change: ClockChange, *, environment: Environment) -> ClockMove:
    """Apply ``change`` to the service whose database is ``db`` and to this process."""
    refuse_in_production(environment)
    load_offset(db, environment=environment)
    before = clock.offset
    after = change.offset_from(before, real_now=datetime.now(UTC))
    store_offset(db, after)
    clock.apply(after)
    return ClockMove(before=before, after=after)
