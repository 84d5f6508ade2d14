"""Group commit: every insert waiting at a moment goes into one transaction, without a timer.

Requests hand their rows to :meth:`EventWriter.write` and wait. One task takes everything that
is waiting, inserts it in one transaction and commits, then answers every waiter with its ids;
meanwhile the next requests queue up for the following commit. Under load commits grow to
absorb the fsync; alone, a request is committed at once. An id is returned only after its
commit. When a batch fails, each request of it is retried alone so that one bad request
cannot fail the others.

On SQLite the rows go in through the sqlite3 driver's ``executemany`` (about a quarter of the
CPU of SQLAlchemy's insert with RETURNING, which is what bounds a batch), values converted with
SQLAlchemy's own bind processors; the ids are then the consecutive rowids ending at
``last_insert_rowid()``, since the transaction holds SQLite's write lock and every new row of an
``INTEGER PRIMARY KEY`` table gets the largest rowid plus one. PostgreSQL keeps RETURNING.
"""

from __future__ import annotations

import asyncio
import logging
import operator
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Connection, insert

from execution_instance.tables import Event
from services.db import Database
from services.errors import McsimError

__all__ = ["EventWriter", "WriterStopped"]

log = logging.getLogger("mcsim.intake")


class WriterStopped(McsimError):
    """The instance is shutting down and no longer accepts events."""

    status_code = 503
    error = "shutting_down"


@dataclass
class _Request:
    rows: Sequence[dict[str, Any]]
    done: asyncio.Future[list[int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class EventWriter:
    """Insert event rows with group commit and return their primary keys in order."""

    def __init__(self, db: Database, *, max_rows_per_commit: int = 20_000) -> None:
        self.db = db
        self._sqlite = _SqliteInsert(db) if db.is_sqlite else None
        self.max_rows_per_commit = max_rows_per_commit
        self._waiting: list[_Request] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Its own thread: lighter than the shared pool's hop, and never queued behind requests.
        self._thread: ThreadPoolExecutor | None = None
        self._closing = False
        self.commits = 0
        self.rows_written = 0

    async def start(self) -> None:
        """Start the commit loop."""
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-writer")
        self._task = asyncio.create_task(self._run(), name="event-writer")

    async def stop(self) -> None:
        """Commit what is waiting, then stop; later writes are refused."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        if self._thread is not None:
            self._thread.shutdown(wait=True)

    async def write(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` in one transaction shared with other waiters; return their ids."""
        if self._closing or self._task is None:
            raise WriterStopped("the execution instance is shutting down; retry on another one")
        request = _Request(rows)
        self._waiting.append(request)
        self._wakeup.set()
        return await request.done

    def _take_batch(self) -> list[_Request]:
        batch: list[_Request] = []
        count = 0
        while self._waiting and (
            not batch or count + len(self._waiting[0].rows) <= self.max_rows_per_commit
        ):
            request = self._waiting.pop(0)
            batch.append(request)
            count += len(request.rows)
        return batch

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._waiting:
                batch = self._take_batch()
                await self._commit(batch)
            if self._closing and not self._waiting:
                return

    async def _commit(self, batch: list[_Request]) -> None:
        rows = [row for request in batch for row in request.rows]
        try:
            ids = await asyncio.get_running_loop().run_in_executor(self._thread, self._insert, rows)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exc)
                return
            log.warning("group commit failed; retrying its requests one by one", exc_info=exc)
            for request in batch:
                await self._commit([request])
            return
        self.commits += 1
        self.rows_written += len(rows)
        start = 0
        for request in batch:
            _settle(request, ids[start : start + len(request.rows)])
            start += len(request.rows)

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        with self.db.transaction(write=True) as session:
            if self._sqlite is not None:
                return self._sqlite.insert(session.connection(), rows)
            statement = insert(Event).returning(Event.id, sort_by_parameter_order=True)
            return list(session.execute(statement, rows).scalars())


class _SqliteInsert:
    """Insert event rows through the sqlite3 connection of an open write transaction."""

    def __init__(self, db: Database) -> None:
        dialect = db.engine.dialect
        table = Event.metadata.tables[Event.__tablename__]
        self.columns: list[Column[Any]] = [c for c in table.columns if c.name != "id"]
        for column in self.columns:
            default = column.default
            if default is not None and not (default.is_scalar or default.is_callable):
                raise TypeError(f"events.{column.name}: only Python defaults can be computed")
        # Only the datetime columns need converting on SQLite; the others go in as they are.
        self.values_of = operator.itemgetter(*(column.name for column in self.columns))
        self.converters = [
            (index, processor)
            for index, column in enumerate(self.columns)
            if (processor := column.type.dialect_impl(dialect).bind_processor(dialect))
        ]
        self.sql = (
            f"INSERT INTO events ({', '.join(c.name for c in self.columns)}) "
            f"VALUES ({', '.join('?' for _ in self.columns)})"
        )

    def _defaults(self) -> dict[str, Any]:
        # One value per commit for callable defaults (updated_at: the commit's time).
        values: dict[str, Any] = {}
        for column in self.columns:
            default = column.default
            if default is None:
                values[column.name] = None
            elif default.is_callable:
                values[column.name] = default.arg(None)  # type: ignore[attr-defined]
            else:
                values[column.name] = default.arg  # type: ignore[attr-defined]
        return values

    def insert(self, connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` in order and return their ids (the caller holds the write lock)."""
        defaults = self._defaults()
        converted: dict[tuple[int, Any], Any] = {}  # rows of a call share their datetimes
        parameters: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(self.values_of(defaults | row))
            for index, processor in self.converters:
                given = values[index]
                if given is not None:
                    done = converted.get((index, given))
                    if done is None:
                        done = converted[index, given] = processor(given)
                    values[index] = done
            parameters.append(tuple(values))
        # Through SQLAlchemy's connection (one call, not one a row): errors keep their
        # SQLAlchemy types (an IntegrityError on a raced Idempotency-Key, for REST).
        inserted = connection.exec_driver_sql(self.sql, parameters).rowcount
        last = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
        if inserted != len(rows):
            raise RuntimeError(f"{inserted} event rows inserted for {len(rows)} given")
        return list(range(last - len(rows) + 1, last + 1))


def _settle(request: _Request, outcome: list[int] | BaseException) -> None:
    if request.done.done():  # the caller went away (client disconnected)
        return
    if isinstance(outcome, BaseException):
        request.done.set_exception(outcome)
    else:
        request.done.set_result(outcome)
