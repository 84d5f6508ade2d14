"""Queries that store delivery parts and their messages; never commits (the use case does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from midsourcing.tables import DeliveryPartRow, message_keys_table, messages_table

__all__ = ["add_messages", "claim_message_ids", "get_or_add_part"]

_CHUNK = 500  # rows per statement, below every driver's parameter limit


def _insert_ignoring_duplicates(session: Session, table: Any) -> Insert:
    """Return ``INSERT … ON CONFLICT DO NOTHING`` for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def get_or_add_part(
    session: Session,
    *,
    part_key: str,
    instance: int,
    queue: str,
    message_count: int,
    now: datetime,
) -> tuple[int, bool]:
    """Return the part's ``deliveryPartId`` and whether the part is new."""
    statement = _insert_ignoring_duplicates(session, DeliveryPartRow).values(
        part_key=part_key,
        instance=instance,
        queue=queue,
        message_count=message_count,
        received_at=now,
    )
    added = session.execute(statement.returning(DeliveryPartRow.id)).scalar_one_or_none()
    if added is not None:
        return int(added), True
    found = session.execute(
        select(DeliveryPartRow.id).where(DeliveryPartRow.part_key == part_key)
    ).scalar_one()
    return int(found), False


def claim_message_ids(
    session: Session, *, message_ids: Sequence[str], part_id: int, now: datetime
) -> set[str]:
    """Record ``message_ids`` as accepted; return those that were not accepted before."""
    fresh: set[str] = set()
    for start in range(0, len(message_ids), _CHUNK):
        chunk = message_ids[start : start + _CHUNK]
        statement = _insert_ignoring_duplicates(session, message_keys_table).returning(
            message_keys_table.c.message_id
        )
        rows = [{"message_id": m, "part_id": part_id, "accepted_at": now} for m in chunk]
        fresh.update(session.execute(statement, rows).scalars())
    return fresh


def add_messages(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Queue new messages (a Core executemany: the ORM's bulk insert adds nothing here)."""
    for start in range(0, len(rows), _CHUNK):
        session.execute(insert(messages_table), list(rows[start : start + _CHUNK]))
