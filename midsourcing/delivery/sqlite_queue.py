"""The queue's hot statements on SQLite, through the raw sqlite3 connection of a write turn.

Claiming messages and recording outcomes run a few times a second with tens of rows each; as
SQLAlchemy statements (compiling the ``IN`` lists, building and converting each row's
parameters) they cost several hundred microseconds of CPU a message, most of mid-sourcing's
database work. Here they are plain SQL on the sqlite3 connection that
:meth:`~services.db.Database.sqlite_write` holds inside ``BEGIN IMMEDIATE`` (the process's write
turn, as a session's write transaction takes it). They do exactly what
:func:`midsourcing.delivery.repository.claim` and :func:`~midsourcing.delivery.repository.record`
do, which PostgreSQL keeps using; values are converted by the columns' own SQLAlchemy types, so
what is stored is byte for byte what a session would store. A batch that changes an address
other than clearing it (a bounce: rare) is recorded through a session instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column

from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.repository import Claimed, Finished
from midsourcing.quarantine.addresses import AddressEffect, AddressStatus, address_digest
from midsourcing.tables import messages_table
from services.db import Database

__all__ = ["SqliteQueue"]

_CHUNK = 500  # ids per IN list, below SQLite's parameter limit
_OUTGOING_FIELDS = (
    "id",
    "message_id",
    "instance",
    "event_id",
    "event_type",
    "channel",
    "recipient",
    "proof",
    "template_version",
    "from_name",
    "from_address",
    "reply_to",
    "subject",
    "text",
    "html",
    "title",
    "app",
    "data",
    "created_at",
    "tries",
)
_DUE = (
    f"SELECT {', '.join(_OUTGOING_FIELDS)} FROM messages "
    "WHERE status = ? AND next_attempt_at <= ? {extra}ORDER BY next_attempt_at LIMIT ?"
)
_RECORD = (
    "UPDATE messages SET status = ?, claimed_by = NULL, next_attempt_at = ?, failure_type = ?, "
    "failure_reason = ?, result_text = ?, forwarded = ?, finished_at = ? WHERE id = ?"
)
_LOG = (
    "INSERT INTO delivery_logs (message_id, event_id, instance, status, failure_type, "
    "failure_reason, text, at, tries) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

Processor = Callable[[Any], Any]


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[start : start + _CHUNK] for start in range(0, len(values), _CHUNK)]


class SqliteQueue:
    """Claim and record on SQLite without an ORM session (the caller holds the write turn)."""

    def __init__(self, db: Database) -> None:
        if not db.is_sqlite:
            raise TypeError("SqliteQueue is for SQLite databases")
        dialect = db.engine.dialect
        stamp = messages_table.c.next_attempt_at.type.dialect_impl(dialect)
        bind = stamp.bind_processor(dialect)
        if bind is None:
            raise TypeError("a UtcDateTime column has no bind processor on SQLite")
        self._stamp: Processor = bind
        self._readers: list[tuple[int, Processor]] = []
        for index, name in enumerate(_OUTGOING_FIELDS):
            column: Column[Any] = messages_table.c[name]
            reader = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if reader is not None:
                self._readers.append((index, reader))

    def _stored(self, value: datetime | None) -> Any:
        return None if value is None else self._stamp(value)

    # -- claim -------------------------------------------------------------------------------
    def claim(
        self,
        connection: sqlite3.Connection,
        *,
        worker: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
    ) -> list[Claimed]:
        """Claim up to ``limit`` due messages for ``worker``: expired leases, then queued ones."""
        at = self._stored(now)
        rows = connection.execute(
            _DUE.format(extra="AND (claimed_by IS NULL OR claimed_by != ?) "),
            ("sending", at, worker, limit),
        ).fetchall()
        if len(rows) < limit:
            rows += connection.execute(
                _DUE.format(extra=""), ("queued", at, limit - len(rows))
            ).fetchall()
        if not rows:
            return []
        lease = self._stored(lease_until)
        for chunk in _chunks([row[0] for row in rows]):
            connection.execute(
                "UPDATE messages SET status = 'sending', claimed_by = ?, next_attempt_at = ?, "
                f"tries = tries + 1 WHERE id IN ({_marks(len(chunk))})",
                (worker, lease, *chunk),
            )
        items = [self._outgoing(row) for row in rows]
        digests = [address_digest(item.channel, item.recipient) for item in items]
        quarantined = self._quarantined_at(connection, digests, at)
        return [
            Claimed(item, digest in quarantined)
            for item, digest in zip(items, digests, strict=True)
        ]

    def _outgoing(self, row: tuple[Any, ...]) -> Outgoing:
        values = list(row)
        for index, reader in self._readers:
            values[index] = reader(values[index])
        values[-1] += 1  # this try
        return Outgoing(*values)

    def quarantined(
        self, connection: sqlite3.Connection, digests: list[str], now: datetime
    ) -> set[str]:
        """Return which of ``digests`` are addresses in quarantine at ``now``."""
        return self._quarantined_at(connection, digests, self._stored(now))

    def _quarantined_at(
        self, connection: sqlite3.Connection, digests: list[str], at: Any
    ) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(set(digests))):
            found.update(
                digest
                for (digest,) in connection.execute(
                    f"SELECT digest FROM addresses WHERE digest IN ({_marks(len(chunk))}) "
                    "AND status = ? AND (expires_at IS NULL OR expires_at > ?)",
                    (*chunk, AddressStatus.QUARANTINE.value, at),
                )
            )
        return found

    # -- record ------------------------------------------------------------------------------
    @staticmethod
    def can_record(finished: Sequence[Finished]) -> bool:
        """Return whether this batch changes no address beyond clearing its errors."""
        return all(
            f.decision.address is None or f.decision.address.effect is AddressEffect.CLEAR
            for f in finished
        )

    def record(
        self,
        connection: sqlite3.Connection,
        *,
        worker: str,
        finished: Sequence[Finished],
        now: datetime,
    ) -> int:
        """Store outcomes of messages ``worker`` still holds and their logs; clear addresses.

        Only for a batch :meth:`can_record` accepts. Returns how many were recorded.
        """
        owned: set[int] = set()
        for chunk in _chunks([f.item.pk for f in finished]):
            owned.update(
                pk
                for (pk,) in connection.execute(
                    f"SELECT id FROM messages WHERE id IN ({_marks(len(chunk))}) "
                    "AND claimed_by = ? AND status = 'sending'",
                    (*chunk, worker),
                )
            )
        kept = [f for f in finished if f.item.pk in owned]
        if not kept:
            return 0
        at = self._stored(now)
        connection.executemany(_RECORD, [self._outcome(f, at) for f in kept])
        connection.executemany(_LOG, [self._log(f, at) for f in kept])
        cleared = sorted({f.decision.address.digest for f in kept if f.decision.address})
        for chunk in _chunks(cleared):
            connection.execute(
                f"DELETE FROM addresses WHERE digest IN ({_marks(len(chunk))}) AND status = ?",
                (*chunk, AddressStatus.WITH_ERRORS.value),
            )
        return len(kept)

    def _outcome(self, finished: Finished, at: Any) -> tuple[Any, ...]:
        decision = finished.decision
        return (
            decision.status,
            at if decision.next_attempt_at is None else self._stamp(decision.next_attempt_at),
            decision.failure_type.value,
            decision.reason,
            decision.text,
            finished.forwarded,
            at if decision.final else None,
            finished.item.pk,
        )

    @staticmethod
    def _log(finished: Finished, at: Any) -> tuple[Any, ...]:
        item, decision = finished.item, finished.decision
        return (
            item.message_id,
            item.event_id,
            item.instance,
            decision.log_status.value,
            decision.failure_type.value,
            decision.reason,
            decision.text,
            at,
            item.tries,
        )
