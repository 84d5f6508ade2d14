"""Group commit: every insert waiting at a moment goes into one transaction, without a timer.

Requests hand their rows to :meth:`EventWriter.write` and wait. One task takes everything that
is waiting, inserts it in one transaction and commits, then answers every waiter with its ids;
meanwhile the next requests queue up for the following commit. Under load commits grow to
absorb the fsync; alone, a request is committed at once. An id is returned only after its
commit. When a batch fails, each request of it is retried alone so that one bad request
cannot fail the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from starlette.concurrency import run_in_threadpool

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
        self.max_rows_per_commit = max_rows_per_commit
        self._waiting: list[_Request] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0
        self.rows_written = 0

    async def start(self) -> None:
        """Start the commit loop."""
        self._task = asyncio.create_task(self._run(), name="event-writer")

    async def stop(self) -> None:
        """Commit what is waiting, then stop; later writes are refused."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

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
            ids = await run_in_threadpool(self._insert, rows)
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
        statement = insert(Event).returning(Event.id, sort_by_parameter_order=True)
        with self.db.transaction(write=True) as session:
            return list(session.execute(statement, rows).scalars())


def _settle(request: _Request, outcome: list[int] | BaseException) -> None:
    if request.done.done():  # the caller went away (client disconnected)
        return
    if isinstance(outcome, BaseException):
        request.done.set_exception(outcome)
    else:
        request.done.set_result(outcome)
