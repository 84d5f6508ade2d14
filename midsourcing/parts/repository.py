"""Queries that store delivery parts and their messages; never commits (the use case does).

On SQLite, :class:`SqliteParts` does the same through the raw sqlite3 connection of a write
turn (:meth:`~services.db.Database.sqlite_write`): a part of one message cost about 1.6 ms of
CPU through a session (three statements built, compiled and run, and the session around them),
which is most of what mid-sourcing spends on a message when events come one by one.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Dialect, Insert, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from midsourcing.tables import (
    DeliveryPartRow,
    delivery_parts_table,
    message_keys_table,
    messages_table,
)
from services.db import BindConverter, Database

__all__ = ["SqliteParts", "add_messages", "claim_message_ids", "get_or_add_part"]

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


class SqliteParts:
    """Store parts and messages on SQLite without a session (the caller holds the write turn).

    Values are converted by the columns' own SQLAlchemy types, so the rows are byte for byte
    those :func:`get_or_add_part`, :func:`claim_message_ids` and :func:`add_messages` store.
    """

    def __init__(self, db: Database) -> None:
        if not db.is_sqlite:
            raise TypeError("SqliteParts is for SQLite databases")
        dialect = db.engine.dialect
        self._parts = _Converter(delivery_parts_table, dialect, exclude="id")
        self._keys = _Converter(message_keys_table, dialect)
        self._messages = _Converter(messages_table, dialect, exclude="id")
        self._key_insert = (
            f"INSERT INTO message_keys ({self._keys.names}) VALUES {{values}} "
            "ON CONFLICT DO NOTHING RETURNING message_id"
        )
        self._message_insert = (
            f"INSERT INTO messages ({self._messages.names}) VALUES ({self._messages.marks})"
        )

    def get_or_add_part(
        self,
        connection: sqlite3.Connection,
        *,
        part_key: str,
        instance: int,
        queue: str,
        message_count: int,
        now: datetime,
    ) -> tuple[int, bool]:
        """Return the part's ``deliveryPartId`` and whether the part is new."""
        values = self._parts.values(
            {
                "part_key": part_key,
                "instance": instance,
                "queue": queue,
                "message_count": message_count,
                "received_at": now,
            }
        )
        added = connection.execute(
            f"INSERT INTO delivery_parts ({self._parts.names}) VALUES ({self._parts.marks}) "
            "ON CONFLICT DO NOTHING RETURNING id",
            values,
        ).fetchone()
        if added is not None:
            return int(added[0]), True
        found = connection.execute(
            "SELECT id FROM delivery_parts WHERE part_key = ?", (part_key,)
        ).fetchone()
        return int(found[0]), False

    def claim_message_ids(
        self,
        connection: sqlite3.Connection,
        *,
        message_ids: Sequence[str],
        part_id: int,
        now: datetime,
    ) -> set[str]:
        """Record ``message_ids`` as accepted; return those that were not accepted before."""
        fresh: set[str] = set()
        one = f"({self._keys.marks})"
        for start in range(0, len(message_ids), _CHUNK):
            chunk = message_ids[start : start + _CHUNK]
            parameters: list[Any] = []
            memo: dict[Any, Any] = {}
            for message_id in chunk:
                parameters += self._keys.values(
                    {"message_id": message_id, "part_id": part_id, "accepted_at": now}, memo
                )
            statement = self._key_insert.format(values=", ".join([one] * len(chunk)))
            fresh.update(row[0] for row in connection.execute(statement, parameters))
        return fresh

    def add_messages(
        self, connection: sqlite3.Connection, rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Queue new messages; return their ids, in order."""
        if not rows:
            return []
        memo: dict[Any, Any] = {}  # the rows of a part share their times
        connection.executemany(self._message_insert, [self._messages.values(r, memo) for r in rows])
        (last,) = connection.execute("SELECT last_insert_rowid()").fetchone()
        # The write turn is held and ``messages`` is AUTOINCREMENT: each row got the largest
        # id plus one, so the ids are consecutive and end at the last one inserted.
        return list(range(last - len(rows) + 1, last + 1))


class _Converter:
    """The columns of a table as SQL, and a row's values as the sqlite3 module takes them."""

    def __init__(self, table: Table, dialect: Dialect, *, exclude: str | None = None) -> None:
        columns = [c for c in table.columns if c.name != exclude]
        self.names = ", ".join(c.name for c in columns)
        self.marks = ", ".join("?" * len(columns))
        self._get = operator.itemgetter(*(c.name for c in columns))
        self._bind = BindConverter(columns, dialect)

    def values(self, row: dict[str, Any], memo: dict[Any, Any] | None = None) -> list[Any]:
        """Return ``row``'s values in column order; ``memo`` keeps conversions across rows."""
        return self._bind.convert(list(self._get(row)), memo)
