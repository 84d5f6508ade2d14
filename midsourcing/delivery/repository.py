"""Queue queries: claim due messages, keep their leases, record outcomes; never commits.

A claimed message is ``sending``, carries its worker's id in ``claimed_by`` and its lease in
``next_attempt_at``: when a worker dies, its messages become due again once the lease is over.
SQLite claims inside ``BEGIN IMMEDIATE`` (one writer at a time); PostgreSQL locks the rows it
claims with ``FOR UPDATE SKIP LOCKED``, so concurrent workers never claim the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, insert, or_, select, text, update
from sqlalchemy.orm import Session

from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.policy import Decision
from midsourcing.quarantine import repository as quarantine
from midsourcing.quarantine.addresses import address_digest
from midsourcing.tables import DeliveryLogRow, Message

__all__ = [
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
class Finished:
    """The outcome of a try, ready to be recorded."""

    item: Outgoing
    decision: Decision
    forwarded: str = ""


def claim(
    session: Session, *, worker: str, now: datetime, lease_until: datetime, limit: int
) -> list[Claimed]:
    """Claim up to ``limit`` due messages for ``worker``: expired leases, then queued ones."""
    rows = _due(session, "sending", now=now, limit=limit, worker=worker)
    if len(rows) < limit:
        rows += _due(session, "queued", now=now, limit=limit - len(rows), worker=worker)
    if not rows:
        return []
    for row in rows:
        row.status = "sending"
        row.claimed_by = worker
        row.next_attempt_at = lease_until
        row.tries += 1
    session.flush()
    digests = {row.id: address_digest(row.channel, row.recipient) for row in rows}
    quarantined = quarantine.quarantined_among(session, digests=list(digests.values()), now=now)
    return [Claimed(Outgoing.from_row(row), digests[row.id] in quarantined) for row in rows]


def _due(session: Session, status: str, *, now: datetime, limit: int, worker: str) -> list[Message]:
    # One status at a time: the (status, next_attempt_at) index then yields rows in order,
    # with no sort of every due message.
    statement = (
        select(Message)
        .where(Message.status == status, Message.next_attempt_at <= now)
        .order_by(Message.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if status == "sending":  # a lease of this worker is never over while it runs
        statement = statement.where(or_(Message.claimed_by.is_(None), Message.claimed_by != worker))
    return list(session.execute(statement).scalars())


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
    session.execute(
        update(Message).execution_options(synchronize_session=False),
        [_message_values(f, now) for f in kept],
    )
    session.execute(insert(DeliveryLogRow), [_log_values(f, now) for f in kept])
    changes = [f.decision.address for f in kept if f.decision.address is not None]
    quarantine.apply_changes(session, changes)
    return len(kept)


def _message_values(finished: Finished, now: datetime) -> dict[str, Any]:
    decision = finished.decision
    return {
        "id": finished.item.pk,
        "status": decision.status,
        "claimed_by": None,
        "next_attempt_at": decision.next_attempt_at or now,
        "failure_type": decision.failure_type.value,
        "failure_reason": decision.reason,
        "result_text": decision.text,
        "forwarded": finished.forwarded,
        "finished_at": now if decision.final else None,
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
