"""Finished events counted by minute: what the monitoring statistics read (issue 15).

``GET /_mc/stats`` summarises the events changed within its window. Read from the events
themselves, its time grew with the window's events: a day of 142,000 took 450-740 ms. Campaign
keeps its event statistics in tables of its own, filled as the events go; so does mcsim. A
finished event never changes again (a final status is never overwritten), so :data:`SETTLE`
after its last change (no transaction is still writing it) it is counted into
``event_minutes``: one row per status and combination of the minutes of its times (arrival,
claim, end, departure from the queue), with the sums of its durations. :func:`roll_up` does
it every :data:`EVERY` seconds in the process that runs the status sync, and records in
``event_minutes_cursor`` up to which ``updated_at`` it counted.

The statistics (``execution_instance.routes.stats``) read these rows from the second whole
minute of their window on, and the events themselves for the rest: the first minutes of the
window, what changed since the last roll-up, and the events not finished yet. A counted time
is known to its minute and taken at the middle of it; this only shows for an event that
finished a minute or more after its window's start while it arrived, or was claimed, in the
window's first minute, and in the queue samples (a minute's events are placed at its middle).
Without counts (before the first roll-up, with no processing workers) the statistics read the
events alone, as before.

An event written with an ``updated_at`` already counted past (loaded into the table with past
times, by hand or by a benchmark) would be counted by nobody: :func:`forget` makes the next
roll-up count the last :data:`HORIZON` again. A reset of the events forgets the counts; a purge
forgets the minutes it emptied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from execution_instance.intake.channels import EventStatus
from execution_instance.tables import Event, event_minutes, event_minutes_cursor
from services.db import Database

__all__ = [
    "ERROR_STATUSES",
    "EVERY",
    "FINAL_STATUSES",
    "HORIZON",
    "SETTLE",
    "Counted",
    "counted",
    "forget",
    "minute_of",
    "purge",
    "roll_up",
    "seconds_between",
]

#: Statuses counted as errors by Campaign's service level (routing, expired, delivery, ignored).
ERROR_STATUSES = (
    EventStatus.ROUTING_FAILED,
    EventStatus.TOO_OLD,
    EventStatus.DELIVERY_FAILED,
    EventStatus.IGNORED,
)
#: The statuses an event never leaves.
FINAL_STATUSES = (EventStatus.PROCESSED, *ERROR_STATUSES)
MINUTE = timedelta(minutes=1)
#: How long after its last change a finished event is counted (no transaction still writing).
SETTLE = timedelta(minutes=2)
#: How far back the first roll-up starts: the longest window of the statistics, and a margin.
HORIZON = timedelta(days=7, minutes=5)
#: The most minutes one transaction counts (a first roll-up over a week takes several).
CHUNK = timedelta(hours=6)
#: Seconds between two roll-ups: each counts the events finished meanwhile, so that it holds
#: SQLite's write lock briefly (about 4 µs an event: 60 ms at 1,500 events a second).
EVERY = 10.0


@dataclass(frozen=True)
class Counted:
    """What is counted so far: the events last changed in ``[first, until)``; ``first`` is the
    start of a minute, ``until`` any instant (its minute is counted in part)."""

    first: datetime
    until: datetime


def minute_of(at: datetime) -> datetime:
    """Return the start of the minute of ``at``."""
    return at.replace(second=0, microsecond=0)


def seconds_between(db: Database, later: Any, earlier: Any) -> ColumnElement[Any]:
    """Return SQL for the seconds from ``earlier`` to ``later``."""
    if db.is_postgres:
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _minute(db: Database, column: Any) -> ColumnElement[Any]:
    if db.is_postgres:
        return func.date_trunc("minute", column)
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff', the format its DateTime type reads back.
    return func.substr(column, 1, 16).concat(":00.000000")


def counted(connection: Connection | Session) -> Counted | None:
    """Return the minutes counted so far, or None before the first roll-up."""
    row = connection.execute(select(event_minutes_cursor).where(event_minutes_cursor.c.id == 1))
    found = row.first()
    if found is None or found.first_minute is None or found.until is None:
        return None
    return Counted(found.first_minute, found.until)


def roll_up(db: Database, now: datetime) -> int:
    """Count the finished events of the minutes settled by ``now``; return how many."""
    until = now - SETTLE
    total = 0
    while True:
        with db.write_connection(durable=False) as connection:
            cursor = connection.execute(
                select(event_minutes_cursor)
                .where(event_minutes_cursor.c.id == 1)
                .with_for_update()  # replicas sharing a PostgreSQL schema count in turn
            ).first()
            if cursor is None:  # a database made from the tables, not the migrations
                connection.execute(insert(event_minutes_cursor).values(id=1))
                continue
            start = cursor.until or minute_of(now - HORIZON)
            if start >= until:
                return total
            end = min(until, start + CHUNK)
            total += _count(connection, db, start, end)
            connection.execute(
                update(event_minutes_cursor)
                .where(event_minutes_cursor.c.id == 1)
                .values(first_minute=cursor.first_minute or start, until=end)
            )


def _count(connection: Connection, db: Database, start: datetime, end: datetime) -> int:
    sent = Event.status == int(EventStatus.PROCESSED)
    claimed = Event.processing_at.is_not(None)
    delivered = sent & Event.processed_at.is_not(None)
    keys = (
        _minute(db, Event.updated_at),
        Event.status,
        _minute(db, Event.created_at),
        _minute(db, Event.processing_at),
        _minute(db, func.coalesce(Event.processed_at, Event.updated_at)),
        _minute(db, func.coalesce(Event.processing_at, Event.processed_at, Event.updated_at)),
    )
    rows = (
        select(
            *keys,
            func.count(),
            func.count(Event.processing_at),
            func.sum(case((claimed, seconds_between(db, Event.processing_at, Event.created_at)))),
            func.count().filter(delivered),
            func.sum(
                case((delivered, seconds_between(db, Event.processed_at, Event.processing_at)))
            ),
            func.sum(case((delivered, seconds_between(db, Event.processed_at, Event.created_at)))),
        )
        .where(
            Event.updated_at >= start,
            Event.updated_at < end,
            # status + 0, not status: SQLite would walk the claim index (status first) over
            # every event of each status, where the range of updated_at holds a few minutes'.
            (Event.status + 0).in_([int(s) for s in FINAL_STATUSES]),
        )
        .group_by(*keys)
    )
    columns = [
        "minute",
        "status",
        "created_minute",
        "claimed_minute",
        "finished_minute",
        "left_minute",
        "events",
        "claimed",
        "queuing_seconds",
        "delivered",
        "sending_seconds",
        "processing_seconds",
    ]
    # The rows this count adds are those past the largest id (the write lock is held).
    last = connection.execute(select(func.coalesce(func.max(event_minutes.c.id), 0))).scalar_one()
    connection.execute(insert(event_minutes).from_select(columns, rows))
    added = connection.execute(
        select(func.coalesce(func.sum(event_minutes.c.events), 0)).where(event_minutes.c.id > last)
    )
    return int(added.scalar_one())


def purge(connection: Connection | Session, before: datetime) -> None:
    """Forget the minutes of events purged as changed before ``before``."""
    connection.execute(delete(event_minutes).where(event_minutes.c.minute < minute_of(before)))


def forget(connection: Connection | Session) -> None:
    """Forget every count: the next roll-up counts the last :data:`HORIZON` again."""
    connection.execute(delete(event_minutes))
    connection.execute(
        update(event_minutes_cursor)
        .where(event_minutes_cursor.c.id == 1)
        .values(first_minute=None, until=None)
    )
