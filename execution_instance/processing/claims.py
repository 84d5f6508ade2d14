"""Claim pending events safely with several workers or replicas; record what became of them.

A claim is a lease (``claimed_by``, ``claimed_until``) on events that are due; an event whose
lease ran out (its worker died) can be claimed again. On SQLite the claim runs in a
``BEGIN IMMEDIATE`` transaction, so two claims never overlap; on PostgreSQL it uses
``FOR UPDATE SKIP LOCKED``, so replicas sharing one database take different events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from execution_instance.intake.channels import EventStatus
from execution_instance.tables import Event

__all__ = [
    "Delivered",
    "Finished",
    "apply_delivered",
    "claim_due",
    "mark_handed_over",
    "record_finished",
    "reschedule",
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


def claim_due(
    session: Session, *, worker: str, now: datetime, limit: int, lease: float, postgres: bool
) -> list[Event]:
    """Lease up to ``limit`` due events (real-time before batch, oldest first)."""
    due = (
        select(Event.id)
        .where(
            Event.status == int(EventStatus.PENDING),
            Event.next_attempt_at <= now,
            or_(Event.claimed_until.is_(None), Event.claimed_until < now),
        )
        .order_by(Event.queue, Event.id)
        .limit(limit)
    )
    if postgres:
        due = due.with_for_update(skip_locked=True)
    ids = list(session.execute(due).scalars())
    if not ids:
        return []
    session.execute(
        update(Event)
        .where(Event.id.in_(ids))
        .values(claimed_by=worker, claimed_until=now + timedelta(seconds=lease))
    )
    rows = session.execute(select(Event).where(Event.id.in_(ids)).order_by(Event.queue, Event.id))
    return list(rows.scalars())


_EVENTS: Table = Event.__table__  # type: ignore[assignment]


def record_finished(session: Session, finished: Sequence[Finished], *, worker: str) -> None:
    """Give events their final (or paused) status and release them (one executemany)."""
    if not finished:
        return
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
            for item in finished
        ],
    )


def mark_handed_over(
    session: Session,
    handed: Sequence[tuple[int, str, int]],
    *,
    part_id: str,
    worker: str,
    now: datetime,
) -> None:
    """Move events handed to mid-sourcing to ``processing`` (Pending delivery)."""
    if not handed:
        return
    statement = (
        update(_EVENTS)
        .where(
            _EVENTS.c.id == bindparam("event_id"),
            _EVENTS.c.claimed_by == worker,
            _EVENTS.c.status == int(EventStatus.PENDING),
        )
        .values(
            status=int(EventStatus.PROCESSING),
            processing_at=now,
            delivery_part=part_id,
            template_name=bindparam("new_template"),
            template_version=bindparam("new_version"),
            error_text=None,
            claimed_by=None,
            claimed_until=None,
        )
    )
    session.execute(
        statement,
        [
            {"event_id": event_id, "new_template": name, "new_version": version}
            for event_id, name, version in handed
        ],
    )


def reschedule(
    session: Session, event_ids: Sequence[int], *, worker: str, at: datetime, error: str
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


def apply_delivered(session: Session, delivered: Sequence[Delivered]) -> None:
    """Give events handed to mid-sourcing their final status (one executemany).

    Only a pending or processing event changes: a final status is never overwritten (a log read
    twice, or a second log of the same event, changes nothing).
    """
    if not delivered:
        return
    statement = (
        update(_EVENTS)
        .where(
            _EVENTS.c.id == bindparam("event_id"),
            # Not IN (…): SQLAlchemy cannot expand an IN list in an executemany.
            or_(
                _EVENTS.c.status == int(EventStatus.PENDING),
                _EVENTS.c.status == int(EventStatus.PROCESSING),
            ),
        )
        .values(
            status=bindparam("new_status"),
            failure_reason=bindparam("new_reason"),
            error_text=bindparam("new_error"),
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
                "new_reason": item.failure_reason,
                "new_error": item.error,
                "new_at": item.at,
            }
            for item in delivered
        ],
    )
