"""Queries on captured messages; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, func, or_, select
from sqlalchemy.orm import Session

from midsourcing.capture.schemas import MessageFilter
from midsourcing.tables import Message

__all__ = [
    "FINAL",
    "count_by",
    "count_proofs",
    "delete_finished",
    "delete_ids",
    "get",
    "list_page",
    "oldest_finished_beyond",
]

#: Statuses of messages that nothing will change any more.
FINAL = ("sent", "failed", "ignored")


def _event_id_is(text: str) -> list[Any]:
    """Match the event's plId when the search text is one (the mailbox finds events by it)."""
    digits = text.removeprefix("-")
    if digits.isascii() and digits.isdigit() and -(2**63) <= int(text) < 2**63:
        return [Message.event_id == int(text)]
    return []


def _conditions(criteria: MessageFilter) -> list[Any]:
    conditions: list[Any] = []
    if criteria.q:
        conditions.append(
            or_(
                Message.recipient.icontains(criteria.q, autoescape=True),
                Message.subject.icontains(criteria.q, autoescape=True),
                Message.title.icontains(criteria.q, autoescape=True),
                Message.event_type.icontains(criteria.q, autoescape=True),
                Message.message_id.icontains(criteria.q, autoescape=True),
                *_event_id_is(criteria.q),
            )
        )
    if criteria.recipient:
        conditions.append(Message.recipient.icontains(criteria.recipient, autoescape=True))
    if criteria.subject:
        conditions.append(
            or_(
                Message.subject.icontains(criteria.subject, autoescape=True),
                Message.title.icontains(criteria.subject, autoescape=True),
            )
        )
    if criteria.event_type:
        conditions.append(Message.event_type == criteria.event_type)
    if criteria.message_id:
        conditions.append(Message.message_id == criteria.message_id)
    if criteria.channel == "push":
        conditions.append(Message.channel.in_(("ios", "android")))
    elif criteria.channel:
        conditions.append(Message.channel == criteria.channel)
    if criteria.status:
        conditions.append(Message.status == criteria.status)
    if criteria.proof is not None:
        conditions.append(Message.proof == criteria.proof)
    if criteria.since is not None:
        conditions.append(Message.created_at >= criteria.since)
    if criteria.until is not None:
        conditions.append(Message.created_at < criteria.until)
    return conditions


def list_page(
    session: Session, *, criteria: MessageFilter, limit: int, offset: int
) -> tuple[int, list[Message]]:
    """Return how many messages match and one page of them, newest first."""
    conditions = _conditions(criteria)
    total = session.execute(select(func.count()).select_from(Message).where(*conditions))
    page = session.execute(
        select(Message).where(*conditions).order_by(Message.id.desc()).limit(limit).offset(offset)
    )
    return int(total.scalar_one()), list(page.scalars())


def get(session: Session, *, pk: int) -> Message | None:
    """Return one message."""
    return session.get(Message, pk)


def mark_seen(session: Session, *, pk: int, now: datetime) -> bool:
    """Note the first time message ``pk`` is opened; return whether it exists."""
    row = session.get(Message, pk)
    if row is None:
        return False
    if row.seen_at is None:
        row.seen_at = now
    return True


def neighbours(session: Session, *, pk: int) -> tuple[int | None, int | None]:
    """Return the ids of the message just newer and just older than ``pk`` (None at an end)."""
    newer = session.execute(select(func.min(Message.id)).where(Message.id > pk)).scalar()
    older = session.execute(select(func.max(Message.id)).where(Message.id < pk)).scalar()
    return newer, older


def count_by(session: Session, column: Any) -> dict[str, int]:
    """Return how many messages there are per value of ``column``."""
    rows = session.execute(select(column, func.count()).group_by(column)).all()
    return {str(value): int(count) for value, count in rows}


def count_proofs(session: Session) -> int:
    """Return how many captured messages are proofs."""
    statement = select(func.count()).select_from(Message).where(Message.proof.is_(True))
    return int(session.execute(statement).scalar_one())


def _count(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def delete_ids(session: Session, *, pks: Sequence[int]) -> int:
    """Delete finished messages among ``pks``; return how many."""
    statement = delete(Message).where(Message.id.in_(pks), Message.status.in_(FINAL))
    return _count(session.execute(statement))


def delete_finished(session: Session) -> int:
    """Delete every finished message; return how many."""
    return _count(session.execute(delete(Message).where(Message.status.in_(FINAL))))


def oldest_finished_beyond(session: Session, *, keep: int) -> int | None:
    """Return the id of the newest finished message that falls beyond the ``keep`` newest."""
    statement = (
        select(Message.id)
        .where(Message.status.in_(FINAL))
        .order_by(Message.id.desc())
        .offset(keep)
        .limit(1)
    )
    found = session.execute(statement).scalar_one_or_none()
    return None if found is None else int(found)
