"""Group commit: every insert waiting at a moment goes into one transaction, without a timer.

Requests hand their rows to :meth:`EventWriter.write` and wait. One thread takes everything that
is waiting, inserts it in one transaction and commits, then answers every waiter with its ids;
meanwhile the next requests queue up for the following commit. Under load commits grow to
absorb the fsync; alone, a request is committed at once. An id is returned only after its
commit. When a batch fails, each request of it is retried alone so that one bad request
cannot fail the others.

On SQLite the rows go in through the raw sqlite3 connection (:meth:`Database.sqlite_write`: no
ORM session; ``BEGIN IMMEDIATE``, multi-row INSERTs, ``COMMIT``), values converted with
SQLAlchemy's own bind processors; the ids are then the consecutive rowids ending at the last
insert's rowid, since the transaction holds SQLite's write lock and every new row of an
``INTEGER PRIMARY KEY`` table gets the largest rowid plus one. Few statements also mean few
releases of the GIL, each of which costs the writer thread a wait for the event loop's thread
to let go of it again. PostgreSQL keeps SQLAlchemy's INSERT with RETURNING.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import queue
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from execution_instance.tables import Event
from services.db import BindConverter, Database, DatabaseError
from services.errors import McsimError

__all__ = ["UNAVAILABLE", "EventWriter", "WriterStopped", "storage_refused"]

log = logging.getLogger("mcsim.intake")

# Rows per multi-row INSERT on SQLite, largest first: a commit of n rows takes as many of each
# size as fit, then one statement for the rest (fewer than the smallest size). 1,000 rows of 22
# columns stay below SQLite's default limit on bound parameters (32,766), and the few statement
# texts (these sizes and 1-49 rows) stay in the sqlite3 statement cache (128). Each statement
# releases the GIL and must win it back from the busy event loop: under PushEvents(100) load a
# commit of ~3,900 rows took 78 statements of 50 rows; with these sizes it takes 9 (~5 % more
# throughput in an A/B run).
_STATEMENT_SIZES = (1000, 200, 50)


def _statement_sizes(rows: int) -> list[int]:
    """Return the rows of each INSERT statement for ``rows`` rows, in order."""
    sizes: list[int] = []
    for size in _STATEMENT_SIZES:
        count, rows = divmod(rows, size)
        sizes.extend([size] * count)
    if rows:
        sizes.append(rows)
    return sizes


class WriterStopped(McsimError):
    """The instance is shutting down and no longer accepts events."""

    status_code = 503
    error = "shutting_down"


#: A database that cannot take writes now (full disk, unreachable, locked); not a refused value
#: (an IntegrityError is the REST layer's duplicate Idempotency-Key, and stays one).
UNAVAILABLE = (OperationalError, InterfaceError)


def storage_refused(exc: SQLAlchemyError) -> DatabaseError:
    """Return the error (503, a SOAP Server fault) for events the database would not store.

    A full disk, a database that cannot be reached: the caller may retry later, here or on
    another instance. Only a connection lost in the middle leaves the outcome unknown.
    """
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        message = (
            "The execution instance lost its database connection while storing the event: "
            "it may not have been stored. Retry later (with the same Idempotency-Key on REST)."
        )
    else:
        message = (
            "The event was not stored: the execution instance's database refused the write. "
            "Retry later."
        )
    return DatabaseError(message, detail=reason)


@dataclass
class _Request:
    rows: Sequence[dict[str, Any]]
    done: asyncio.Future[list[int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


_Outcome = tuple[_Request, "list[int] | BaseException"]


class EventWriter:
    """Insert event rows with group commit and return their primary keys in order.

    The commits run in a thread of their own that takes its next batch as soon as a commit is
    done, without a round trip through the event loop (which, busy with requests, would take
    milliseconds to notice); the event loop only hands rows over and is called back with the
    answers of a whole commit at once.
    """

    def __init__(self, db: Database, *, max_rows_per_commit: int = 20_000) -> None:
        self.db = db
        self._sqlite = _SqliteInsert(db) if db.is_sqlite else None
        self.max_rows_per_commit = max_rows_per_commit
        self._queue: queue.SimpleQueue[list[_Request] | None] = queue.SimpleQueue()
        self._handing: list[_Request] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self.commits = 0
        self.rows_written = 0

    async def start(self) -> None:
        """Start the commit thread."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="event-writer", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Commit what is waiting, then stop; later writes are refused."""
        self._closing = True
        thread, self._thread = self._thread, None
        if thread is not None:
            if self._handing:
                self._hand_over()
            self._queue.put(None)  # after every request already handed over
            await asyncio.get_running_loop().run_in_executor(None, thread.join)

    async def write(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` in one transaction shared with other waiters; return their ids."""
        if self._closing or self._thread is None:
            raise WriterStopped("the execution instance is shutting down; retry on another one")
        request = _Request(rows)
        if not self._handing:
            self._handing = []
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._handing.append(request)
        try:
            return await request.done
        except UNAVAILABLE as exc:  # nothing of this request was committed
            raise storage_refused(exc) from exc

    def _hand_over(self) -> None:
        # Once per turn of the event loop: the requests of one turn go to the thread together.
        handing, self._handing = self._handing, []
        if handing:
            self._queue.put(handing)

    # -- the commit thread ------------------------------------------------------------------
    def _run(self) -> None:
        waiting: list[_Request] = []  # handed over, not yet committed
        stopping = False
        while waiting or not stopping:
            if not waiting:
                handed = self._queue.get()
                if handed is None:
                    return
                waiting.extend(handed)
            while not stopping:  # everything handed over meanwhile joins this commit
                try:
                    handed = self._queue.get_nowait()
                except queue.Empty:
                    break
                if handed is None:
                    stopping = True
                else:
                    waiting.extend(handed)
            batch, waiting = self._take_batch(waiting)
            self._answer(self._commit(batch))

    def _take_batch(self, waiting: list[_Request]) -> tuple[list[_Request], list[_Request]]:
        count = len(waiting[0].rows)
        end = 1
        while end < len(waiting) and count + len(waiting[end].rows) <= self.max_rows_per_commit:
            count += len(waiting[end].rows)
            end += 1
        return waiting[:end], waiting[end:]

    def _commit(self, batch: list[_Request]) -> list[_Outcome]:
        rows = [row for request in batch for row in request.rows]
        try:
            ids = self._insert(rows)
        except Exception as exc:
            if len(batch) == 1:
                return [(batch[0], exc)]
            log.warning("group commit failed; retrying its requests one by one", exc_info=exc)
            return [outcome for request in batch for outcome in self._commit([request])]
        self.commits += 1
        self.rows_written += len(rows)
        outcomes: list[_Outcome] = []
        start = 0
        for request in batch:
            outcomes.append((request, ids[start : start + len(request.rows)]))
            start += len(request.rows)
        return outcomes

    def _answer(self, outcomes: list[_Outcome]) -> None:
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(_settle_all, outcomes)
        except RuntimeError:  # the event loop is closed: nobody is waiting any more
            log.warning("event writer: %d answers after the event loop closed", len(outcomes))

    def _insert(self, rows: list[dict[str, Any]]) -> list[int]:
        if self._sqlite is not None:
            sizes = _statement_sizes(len(rows))
            # A single statement is the whole transaction.
            with self.db.sqlite_write(one_statement=len(sizes) == 1) as connection:
                return self._sqlite.insert(connection, rows, sizes)
        with self.db.transaction(write=True) as session:
            statement = insert(Event).returning(Event.id, sort_by_parameter_order=True)
            return list(session.execute(statement, rows).scalars())


class _SqliteInsert:
    """Insert event rows through the sqlite3 connection of an open write transaction.

    Rows go in by multi-row ``INSERT … VALUES (…), (…)`` statements of the sizes of
    :data:`_STATEMENT_SIZES`: one statement step for many rows, where ``executemany`` steps
    (and releases the GIL) once a row. The statement texts are few and stay in the sqlite3
    module's statement cache.
    """

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
        self.bind = BindConverter(self.columns, dialect)
        self._head = f"INSERT INTO events ({', '.join(c.name for c in self.columns)}) VALUES "
        self._one = "(" + ", ".join("?" for _ in self.columns) + ")"
        self._statements: dict[int, str] = {}

    def _statement(self, count: int) -> str:
        sql = self._statements.get(count)
        if sql is None:
            sql = self._statements[count] = self._head + ", ".join([self._one] * count)
        return sql

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

    def insert(
        self, connection: sqlite3.Connection, rows: list[dict[str, Any]], sizes: list[int]
    ) -> list[int]:
        """Insert ``rows`` in order, ``sizes`` rows a statement, and return their ids.

        The caller holds the write lock.
        """
        defaults = self._defaults()
        converted: dict[Any, Any] = {}  # rows of a call share their datetimes
        parameters: list[Any] = []
        for row in rows:
            parameters.extend(self.bind.convert(list(self.values_of(defaults | row)), converted))
        width = len(self.columns)
        last: int | None = None
        start = 0
        for count in sizes:
            cursor = connection.execute(
                self._statement(count), parameters[start * width : (start + count) * width]
            )
            start += count
            if cursor.rowcount != count:
                raise RuntimeError(f"{cursor.rowcount} event rows inserted for {count} given")
            last = cursor.lastrowid
        if last is None:
            raise RuntimeError("no event row inserted")
        # The write lock is held: each new row of an INTEGER PRIMARY KEY table gets the largest
        # rowid plus one, so the ids are consecutive and end at the last statement's rowid.
        return list(range(last - len(rows) + 1, last + 1))


def _settle_all(outcomes: list[_Outcome]) -> None:
    for request, outcome in outcomes:
        if request.done.done():  # the caller went away (client disconnected)
            continue
        if isinstance(outcome, BaseException):
            request.done.set_exception(outcome)
        else:
            request.done.set_result(outcome)
