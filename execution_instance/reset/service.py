"""Reset between tests (issue 16): forget every event of the instance, keep its configuration.

Event types, templates, operators, technical tokens, sessions and the instance id stay. What a
reset must not do is make an event that is being processed crash its worker, or let a message
of a forgotten event reach the new ones:

* events a worker holds (a live claim: routing, rendering or handing over) are waited for a
  moment (:data:`FENCE_SECONDS`) while every other event is deleted, so that a hand-over in
  flight ends before the reset answers; the workers' own updates of an event that is gone change
  no row, which they already expect of an event whose lease they lost;
* the message epoch (a random tag in every message id, see
  :func:`execution_instance.processing.service.load_epoch`) is renewed: on SQLite the pks start
  again at 1 once the table is empty, and mid-sourcing remembers the ids of the messages it
  accepted, so a new event must never get the message id of a forgotten one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import CursorResult, delete, func, or_, select, update

from execution_instance import minutes
from execution_instance.tables import Event, service_meta
from services.clock import utc_now
from services.db import Database
from services.errors import Forbidden
from services.settings import Environment

__all__ = ["FENCE_SECONDS", "ResetOutcome", "read_epoch", "refuse_in_production", "reset_events"]

#: How long events held by a worker are waited for before they are deleted all the same.
FENCE_SECONDS = 3.0
#: The service_meta key of the message epoch (processing's ``load_epoch`` reads it).
EPOCH_KEY = "message_epoch"
_PAUSE = 0.02


@dataclass(frozen=True)
class ResetOutcome:
    """What a reset removed."""

    events: int
    #: Events still held by a worker when the fence ended (a stopped processing process).
    taken_from_workers: int
    epoch: str


def refuse_in_production(environment: Environment, *, what: str = "a reset") -> None:
    """Raise Forbidden in production: resets and clocks are for development and tests."""
    if environment is Environment.PRODUCTION:
        raise Forbidden(
            f"{what} is refused in production",
            detail="it deletes events and messages; it exists for development and test stacks",
        )


def reset_events(
    *,
    db: Database,
    environment: Environment,
    fence_seconds: float = FENCE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> ResetOutcome:
    """Delete every event (waiting a moment for those a worker holds); renew the epoch."""
    refuse_in_production(environment)
    deadline = time.monotonic() + fence_seconds
    deleted = 0
    while True:
        now = utc_now()
        with db.transaction(write=True) as session:
            free = or_(Event.claimed_until.is_(None), Event.claimed_until < now)
            deleted += _rowcount(session.execute(delete(Event).where(free)))
            held = session.execute(select(func.count()).select_from(Event)).scalar_one()
        if not held or time.monotonic() >= deadline:
            break
        sleep(_PAUSE)
    epoch = uuid.uuid4().hex[:8]
    with db.transaction(write=True) as session:
        taken = _rowcount(session.execute(delete(Event)))
        minutes.forget(session)
        changed = session.execute(
            update(service_meta).where(service_meta.c.key == EPOCH_KEY).values(value=epoch)
        )
        if not _rowcount(changed):
            session.execute(service_meta.insert().values(key=EPOCH_KEY, value=epoch))
    return ResetOutcome(events=deleted + taken, taken_from_workers=taken, epoch=epoch)


def read_epoch(db: Database) -> str | None:
    """Return the database's message epoch (None before the instance first prepared it)."""
    with db.transaction() as session:
        row = session.execute(
            select(service_meta.c.value).where(service_meta.c.key == EPOCH_KEY)
        ).first()
    return None if row is None else str(row[0])


def _rowcount(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
