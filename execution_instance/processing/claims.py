"""Claim pending events safely with several workers or replicas; record what became of them.

A claim is a lease (``claimed_by``, ``claimed_until``) on events that are due; an event whose
lease ran out (its worker died) can be claimed again. On SQLite the claim runs in a
``BEGIN IMMEDIATE`` transaction, so two claims never overlap; on PostgreSQL it uses
``FOR UPDATE SKIP LOCKED``, so replicas sharing one database take different events.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    CursorResult,
    Table,
    Update,
    bindparam,
    exists,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from execution_instance.intake.channels import EventStatus
from execution_instance.tables import Event, Template
from services.clock import utc_now
from services.db import BindConverter, UtcDateTime

__all__ = [
    "ClaimedEvent",
    "Delivered",
    "Finished",
    "apply_delivered",
    "claim_due",
    "mark_handed_over",
    "record_finished",
    "reschedule",
    "shift_leases",
]


@dataclass(frozen=True)
class Finished:
    """An event that reached a status without (or after) mid-sourcing."""

    event_id: int
    status: EventStatus
    error: str | None = None
    failure_reason: int | None = None
    template_name: str | None = None
    template_version: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Delivered:
    """The final status mid-sourcing's delivery log gives an event."""

    event_id: int
    status: EventStatus
    failure_reason: int | None
    error: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """What processing reads of a claimed event."""

    id: int
    queue: int
    event_type: str
    wished_channel: int
    email: str | None
    mobile_phone: str | None
    push_token: str | None
    mobile_app: str | None
    email_format: int
    expiration: datetime | None
    document: str
    created_at: datetime
    error_count: int


_EVENTS: Table = Event.__table__  # type: ignore[assignment]
_TEMPLATES: Table = Template.__table__  # type: ignore[assignment]

#: Where the statements run: a Core connection (the workers') or an ORM session (tests, tools).
Executor = Session | Connection
_CLAIMED_COLUMNS = [_EVENTS.c[f.name] for f in fields(ClaimedEvent)]


def claim_due(
    session: Executor, *, worker: str, now: datetime, limit: int, lease: float, postgres: bool
) -> list[ClaimedEvent]:
    """Lease up to ``limit`` due events (real-time before batch, the longest due first).

    One statement: an UPDATE of the due ids RETURNING what processing needs (no ORM objects).
    The order is that of the index ``ix_events_claim`` (status, queue, next_attempt_at, then the
    rowid on SQLite), so the database reads the first due rows in order and stops: ordered by
    id instead, SQLite sorted every pending event on each claim (10 ms a claim with 12,700
    pending, growing with the backlog, while holding the write lock).
    """
    parameters = {
        "claim_worker": worker,
        "claim_now": now,
        "claim_until": now + timedelta(seconds=lease),
    }
    rows = session.execute(_claim_statement(limit, postgres=postgres), parameters)
    claimed = [ClaimedEvent(*row) for row in rows]
    claimed.sort(key=lambda event: (event.queue, event.id))  # RETURNING keeps no order
    return claimed


@functools.cache
def _claim_statement(limit: int, *, postgres: bool) -> Update:
    """Build the claim once per batch size and database: a statement object reused with new
    parameters keeps its cache key (building and keying it again cost ~8 % of a processing
    process's CPU at a steady 100 events/s, where each claim takes one event)."""
    now = bindparam("claim_now", type_=UtcDateTime)
    due = (
        select(_EVENTS.c.id)
        .where(
            _EVENTS.c.status == int(EventStatus.PENDING),
            _EVENTS.c.next_attempt_at <= now,
            or_(_EVENTS.c.claimed_until.is_(None), _EVENTS.c.claimed_until < now),
        )
        .order_by(_EVENTS.c.queue, _EVENTS.c.next_attempt_at, _EVENTS.c.id)
        .limit(limit)
    )
    if postgres:
        due = due.with_for_update(skip_locked=True)
    return (
        update(_EVENTS)
        .where(_EVENTS.c.id.in_(due.scalar_subquery()))
        .values(
            claimed_by=bindparam("claim_worker"),
            claimed_until=bindparam("claim_until", type_=UtcDateTime),
        )
        .returning(*_CLAIMED_COLUMNS)
    )


def shift_leases(session: Session, *, by: timedelta, held_after: datetime) -> int:
    """Move every lease still held at ``held_after`` by ``by``; return how many.

    Called when the virtual clock moves by ``by``: a lease measures how long a worker may hold
    its events, and must not end (and its events be taken by another worker while the first
    still hands them over) because the clock jumped.
    """
    held = session.execute(
        select(_EVENTS.c.id, _EVENTS.c.claimed_until).where(_EVENTS.c.claimed_until > held_after)
    ).all()
    for pk, until in held:
        session.execute(
            update(_EVENTS)
            .where(_EVENTS.c.id == pk, _EVENTS.c.claimed_until == until)
            .values(claimed_until=until + by)
        )
    return len(held)


def record_finished(session: Executor, finished: Sequence[Finished], *, worker: str) -> None:
    """Give events their final (or paused) status and release them (one executemany)."""
    final = [item for item in finished if item.status is not EventStatus.PAUSED]
    if final:
        statement = (
            update(_EVENTS)
            .where(_EVENTS.c.id == bindparam("event_id"), _EVENTS.c.claimed_by == worker)
            .values(
                status=bindparam("new_status"),
                error_text=bindparam("new_error"),
                failure_reason=bindparam("new_reason"),
                template_name=bindparam("new_template"),
                template_version=bindparam("new_version"),
                processed_at=bindparam("new_at"),
                claimed_by=None,
                claimed_until=None,
            )
        )
        session.execute(
            statement,
            [
                {
                    "event_id": item.event_id,
                    "new_status": int(item.status),
                    "new_error": item.error,
                    "new_reason": item.failure_reason,
                    "new_template": item.template_name,
                    "new_version": item.template_version,
                    "new_at": item.at,
                }
                for item in final
            ],
        )
    for item in finished:
        if item.status is EventStatus.PAUSED:
            _pause(session, item, worker=worker)


def _pause(session: Executor, item: Finished, *, worker: str) -> None:
    """Pause an event only while its template is still paused in the database.

    The worker decided from its cache of templates: a resume committed since (in another
    process, or in this one before its cache was read again) has already put the template's
    paused events back in the queue, and would never see this one. The event then goes back
    to the queue itself, to be routed again with the fresh template.
    """
    still_paused = exists().where(
        _TEMPLATES.c.name == item.template_name, _TEMPLATES.c.paused.is_(True)
    )
    mine = (_EVENTS.c.id == item.event_id, _EVENTS.c.claimed_by == worker)
    paused = session.execute(
        update(_EVENTS)
        .where(*mine, still_paused)
        .values(
            status=int(EventStatus.PAUSED),
            template_name=item.template_name,
            template_version=item.template_version,
            claimed_by=None,
            claimed_until=None,
        )
    )
    if not (isinstance(paused, CursorResult) and paused.rowcount):
        session.execute(update(_EVENTS).where(*mine).values(claimed_by=None, claimed_until=None))


def mark_handed_over(
    session: Executor,
    handed: Sequence[tuple[int, str, int]],
    *,
    part_id: str,
    worker: str,
    now: datetime,
) -> None:
    """Move events handed to mid-sourcing to ``processing`` (Pending delivery).

    One UPDATE … WHERE id IN (…) per template version of the part (usually one in all), one
    statement object for every call (see :func:`_claim_statement`).
    """
    by_template: dict[tuple[str, int], list[int]] = {}
    for event_id, name, version in handed:
        by_template.setdefault((name, version), []).append(event_id)
    for (name, version), ids in by_template.items():
        session.execute(
            _HANDED_OVER,
            {
                "handed_ids": ids,
                "handed_worker": worker,
                "handed_at": now,
                "handed_part": part_id,
                "handed_template": name,
                "handed_version": version,
            },
        )


_HANDED_OVER = (
    update(_EVENTS)
    .where(
        _EVENTS.c.id.in_(bindparam("handed_ids", expanding=True)),
        _EVENTS.c.claimed_by == bindparam("handed_worker"),
        _EVENTS.c.status == int(EventStatus.PENDING),
    )
    .values(
        status=int(EventStatus.PROCESSING),
        processing_at=bindparam("handed_at", type_=UtcDateTime),
        delivery_part=bindparam("handed_part"),
        template_name=bindparam("handed_template"),
        template_version=bindparam("handed_version"),
        error_text=None,
        claimed_by=None,
        claimed_until=None,
    )
)


def reschedule(
    session: Executor, event_ids: Sequence[int], *, worker: str, at: datetime, error: str
) -> None:
    """Put events back in the queue for another hand-over attempt at ``at``."""
    session.execute(
        update(Event)
        .where(Event.id.in_(event_ids), Event.claimed_by == worker)
        .values(
            next_attempt_at=at,
            error_count=Event.error_count + 1,
            error_text=error,
            claimed_by=None,
            claimed_until=None,
        )
    )


def apply_delivered(session: Executor, delivered: Sequence[Delivered]) -> None:
    """Give events handed to mid-sourcing their final status (one executemany).

    Only a pending or processing event changes: a final status is never overwritten (a log read
    twice, or a second log of the same event, changes nothing). The executemany goes through
    the driver: SQLAlchemy's per-row parameter processing cost more than the UPDATE itself.
    """
    if not delivered:
        return
    now = utc_now()
    _driver_executemany(
        session,
        "UPDATE events SET status = ?, failure_reason = ?, error_text = ?, processed_at = ?, "
        "claimed_by = NULL, claimed_until = NULL, updated_at = ? "
        f"WHERE id = ? AND status IN ({int(EventStatus.PENDING)}, {int(EventStatus.PROCESSING)})",
        [
            _EVENTS.c.status,
            _EVENTS.c.failure_reason,
            _EVENTS.c.error_text,
            _EVENTS.c.processed_at,
            _EVENTS.c.updated_at,
            _EVENTS.c.id,
        ],
        [
            (int(item.status), item.failure_reason, item.error, item.at, now, item.event_id)
            for item in delivered
        ],
    )


def _driver_executemany(
    session: Executor, sql: str, columns: Sequence[Column[Any]], rows: list[tuple[Any, ...]]
) -> None:
    """Run ``sql`` (``?`` placeholders, one per column) once per row, through the driver.

    Values are converted by the columns' own bind processors (datetimes on SQLite), so the
    database holds what SQLAlchemy would have written.
    """
    connection = session.connection() if isinstance(session, Session) else session
    dialect = connection.dialect
    bind = BindConverter(columns, dialect)
    rows = [tuple(bind.convert(list(row))) for row in rows]
    if dialect.paramstyle != "qmark":
        sql = sql.replace("?", "%s")
    connection.exec_driver_sql(sql, rows)
