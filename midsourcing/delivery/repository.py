"""Queue queries: claim due messages, keep their leases, record outcomes; never commits.

A claimed message is ``sending``, carries its worker's id in ``claimed_by`` and its lease in
``next_attempt_at``: when a worker dies, its messages become due again once the lease is over.
SQLite claims inside ``BEGIN IMMEDIATE`` (one writer at a time); PostgreSQL locks the rows it
claims with ``FOR UPDATE SKIP LOCKED``, so concurrent workers never claim the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, Row, bindparam, insert, or_, select, text, update
from sqlalchemy.orm import Session

from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.policy import Decision
from midsourcing.quarantine import repository as quarantine
from midsourcing.quarantine.addresses import address_digest
from midsourcing.tables import Message, delivery_logs_table, messages_table

__all__ = [
    "ClaimAtAcceptance",
    "Claimed",
    "Finished",
    "claim",
    "extend_leases",
    "lock_log_order",
    "record",
    "release_claims",
]

#: Serialises the transactions that write delivery logs on PostgreSQL, so that ``seq`` values
#: become visible in order and a reader's cursor never skips a log committed late.
_LOG_ORDER_LOCK = 74382101
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message a worker now holds, and whether its address is in quarantine."""

    item: Outgoing
    quarantined: bool


@dataclass(frozen=True, slots=True)
class ClaimAtAcceptance:
    """Claim up to ``limit`` of a part's new messages for ``worker`` as the part is stored."""

    worker: str
    lease_until: datetime
    limit: int


@dataclass(frozen=True, slots=True)
class Finished:
    """The outcome of a try, ready to be recorded."""

    item: Outgoing
    decision: Decision
    forwarded: str = ""


#: The columns of a claimed message: those :class:`Outgoing` reads.
_OUTGOING = messages_table.c
_CLAIMED_COLUMNS = (
    _OUTGOING.id,
    _OUTGOING.message_id,
    _OUTGOING.instance,
    _OUTGOING.event_id,
    _OUTGOING.event_type,
    _OUTGOING.channel,
    _OUTGOING.recipient,
    _OUTGOING.proof,
    _OUTGOING.template_version,
    _OUTGOING.from_name,
    _OUTGOING.from_address,
    _OUTGOING.reply_to,
    _OUTGOING.subject,
    _OUTGOING.text,
    _OUTGOING.html,
    _OUTGOING.title,
    _OUTGOING.app,
    _OUTGOING.data,
    _OUTGOING.created_at,
    _OUTGOING.tries,
)


def claim(
    session: Session, *, worker: str, now: datetime, lease_until: datetime, limit: int
) -> list[Claimed]:
    """Claim up to ``limit`` due messages for ``worker``: expired leases, then queued ones.

    Core statements, no ORM objects: one SELECT per status (rows locked on PostgreSQL) and one
    UPDATE of the claimed ids.
    """
    rows = _due(session, "sending", now=now, limit=limit, worker=worker)
    if len(rows) < limit:
        rows += _due(session, "queued", now=now, limit=limit - len(rows), worker=worker)
    if not rows:
        return []
    pks = [row.id for row in rows]
    for start in range(0, len(pks), _CHUNK):
        session.execute(
            update(messages_table)
            .where(_OUTGOING.id.in_(pks[start : start + _CHUNK]))
            .values(
                status="sending",
                claimed_by=worker,
                next_attempt_at=lease_until,
                tries=_OUTGOING.tries + 1,
            )
        )
    items = [Outgoing.from_row(row, tries=row.tries + 1) for row in rows]
    digests = [address_digest(item.channel, item.recipient) for item in items]
    quarantined = quarantine.quarantined_among(session, digests=digests, now=now)
    return [
        Claimed(item, digest in quarantined) for item, digest in zip(items, digests, strict=True)
    ]


def _due(
    session: Session, status: str, *, now: datetime, limit: int, worker: str
) -> list[Row[Any]]:
    # One status at a time: the (status, next_attempt_at) index then yields rows in order,
    # with no sort of every due message.
    statement = (
        select(*_CLAIMED_COLUMNS)
        .where(_OUTGOING.status == status, _OUTGOING.next_attempt_at <= now)
        .order_by(_OUTGOING.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if status == "sending":  # a lease of this worker is never over while it runs
        statement = statement.where(
            or_(_OUTGOING.claimed_by.is_(None), _OUTGOING.claimed_by != worker)
        )
    return list(session.execute(statement))


def shift_leases(session: Session, *, by: timedelta, held_after: datetime) -> int:
    """Move the lease of every message being sent at ``held_after`` by ``by`` (the virtual
    clock moved by ``by``: a lease must not end, and its message be sent a second time by
    another server, because the clock jumped); return how many."""
    held = session.execute(
        select(_OUTGOING.id, _OUTGOING.next_attempt_at).where(
            _OUTGOING.status == "sending", _OUTGOING.next_attempt_at > held_after
        )
    ).all()
    for pk, until in held:
        session.execute(
            update(messages_table)
            .where(_OUTGOING.id == pk, _OUTGOING.next_attempt_at == until)
            .values(next_attempt_at=until + by)
        )
    return len(held)


def extend_leases(session: Session, *, worker: str, lease_until: datetime) -> int:
    """Extend the lease of every message ``worker`` is sending; return how many."""
    result = session.execute(
        update(Message)
        .where(Message.claimed_by == worker, Message.status == "sending")
        .values(next_attempt_at=lease_until)
        .execution_options(synchronize_session=False)
    )
    return _count(result)


def release_claims(session: Session, *, worker: str, pks: Sequence[int], now: datetime) -> int:
    """Queue again messages ``worker`` claimed but did not finish (that try did not happen)."""
    released = 0
    for start in range(0, len(pks), _CHUNK):
        result = session.execute(
            update(Message)
            .where(
                Message.id.in_(pks[start : start + _CHUNK]),
                Message.claimed_by == worker,
                Message.status == "sending",
            )
            .values(status="queued", claimed_by=None, next_attempt_at=now, tries=Message.tries - 1)
            .execution_options(synchronize_session=False)
        )
        released += _count(result)
    return released


def lock_log_order(session: Session) -> None:
    """Take the delivery-log order lock for this transaction (PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOG_ORDER_LOCK})


def _owned(session: Session, *, worker: str, pks: Sequence[int]) -> set[int]:
    owned: set[int] = set()
    for start in range(0, len(pks), _CHUNK):
        statement = (
            select(Message.id)
            .where(
                Message.id.in_(pks[start : start + _CHUNK]),
                Message.claimed_by == worker,
                Message.status == "sending",
            )
            .with_for_update()
        )
        owned.update(session.execute(statement).scalars())
    return owned


def record(session: Session, *, worker: str, finished: Sequence[Finished], now: datetime) -> int:
    """Store outcomes of messages ``worker`` still holds, their logs and address changes.

    Returns how many were recorded: a message whose lease was lost (another worker took it
    over) is left to that worker.
    """
    lock_log_order(session)
    owned = _owned(session, worker=worker, pks=[f.item.pk for f in finished])
    kept = [f for f in finished if f.item.pk in owned]
    if not kept:
        return 0
    session.execute(_RECORD_MESSAGE, [_message_values(f, now) for f in kept])
    session.execute(insert(delivery_logs_table), [_log_values(f, now) for f in kept])
    changes = [f.decision.address for f in kept if f.decision.address is not None]
    quarantine.apply_changes(session, changes)
    return len(kept)


#: One outcome's UPDATE, run as an executemany (Core: no ORM bulk-update bookkeeping).
_RECORD_MESSAGE = (
    update(messages_table)
    .where(_OUTGOING.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        claimed_by=None,
        next_attempt_at=bindparam("b_next", type_=_OUTGOING.next_attempt_at.type),
        failure_type=bindparam("b_failure_type"),
        failure_reason=bindparam("b_failure_reason"),
        result_text=bindparam("b_text"),
        forwarded=bindparam("b_forwarded"),
        finished_at=bindparam("b_finished", type_=_OUTGOING.finished_at.type),
    )
)


def _message_values(finished: Finished, now: datetime) -> dict[str, Any]:
    decision = finished.decision
    return {
        "b_id": finished.item.pk,
        "b_status": decision.status,
        "b_next": decision.next_attempt_at or now,
        "b_failure_type": decision.failure_type.value,
        "b_failure_reason": decision.reason,
        "b_text": decision.text,
        "b_forwarded": finished.forwarded,
        "b_finished": now if decision.final else None,
    }


def _log_values(finished: Finished, now: datetime) -> dict[str, Any]:
    item, decision = finished.item, finished.decision
    return {
        "message_id": item.message_id,
        "event_id": item.event_id,
        "instance": item.instance,
        "status": decision.log_status.value,
        "failure_type": decision.failure_type.value,
        "failure_reason": decision.reason,
        "text": decision.text,
        "at": now,
        "tries": item.tries,
    }


def _count(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)
