"""Record outcomes with group commit: every outcome waiting at a moment shares one transaction.

Tries finish one by one; their outcomes queue here, and one task commits whatever is waiting
(message states, delivery logs, address changes), then answers the waiters. Two commits are at
least ``interval`` apart: under load, the outcomes of that span share one transaction, whose
fixed cost (the write turn, ``BEGIN``, the fsync of ``COMMIT``) was most of the recording's CPU
when each commit held a handful; after a quiet spell an outcome is committed at once. An
outcome is only ever queued here after its try ended (the relay accepted or refused the message),
so a message is never marked sent before the relay took it. When the database
is unreachable, the commit is retried with backoff: an outcome is never dropped, and the
message keeps its lease meanwhile (the heartbeat extends it once the database is back).

A batch that fails otherwise (the database refuses one of its values) is committed one outcome
at a time, so that one poison outcome cannot hold back the others forever: the outcome that
still fails alone is stored with plain-ASCII texts and, failing that, as a failure that says
its outcome could not be recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from collections.abc import Callable

from sqlalchemy import exc as sa_exc
from starlette.concurrency import run_in_threadpool

from midsourcing.delivery import repository
from midsourcing.delivery.policy import Decision
from midsourcing.delivery.reasons import FailureReason
from midsourcing.delivery.repository import Finished
from midsourcing.delivery.sqlite_queue import SqliteQueue
from services.clock import utc_now
from services.db import Database
from services.delivery_protocol import FailureType, LogStatus

__all__ = ["COMMIT_INTERVAL", "OutcomeRecorder"]

log = logging.getLogger("mcsim.mid.recorder")
_MAX_BATCH = 2_000
#: Shortest time between two commits of a dispatcher's recorder (seconds).
COMMIT_INTERVAL = 0.025
#: Errors of a database that is down, busy or unreachable: the whole batch is tried again.
_TRANSIENT = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    sqlite3.OperationalError,
    OSError,
    TimeoutError,
)


class OutcomeRecorder:
    """Commit outcomes in batches and tell each try when its outcome is stored."""

    def __init__(
        self,
        db: Database,
        *,
        worker: str,
        on_commit: Callable[[list[Finished]], None] | None = None,
        sqlite: SqliteQueue | None = None,
        interval: float = 0.0,
    ) -> None:
        self.db = db
        self.sqlite = sqlite
        self.interval = interval
        self._last_commit = float("-inf")
        self.worker = worker
        self.on_commit = on_commit
        self._waiting: list[tuple[Finished, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.commits = 0
        self.recorded = 0

    async def start(self) -> None:
        """Start the commit loop."""
        self._task = asyncio.create_task(self._run(), name="mid-outcome-recorder")

    async def stop(self) -> None:
        """Commit what is waiting, then stop."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def record(self, finished: Finished) -> None:
        """Queue ``finished`` and return once it is committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((finished, future))
        self._wakeup.set()
        await future

    async def _run(self) -> None:
        delay = 0.1
        while True:
            if not self._waiting:
                if self._closing:
                    return
                await self._wakeup.wait()
                self._wakeup.clear()
                continue
            rest = self._last_commit + self.interval - asyncio.get_running_loop().time()
            if rest > 0 and not self._closing and len(self._waiting) < _MAX_BATCH:
                await asyncio.sleep(rest)  # let the outcomes of this span share the commit
            self._last_commit = asyncio.get_running_loop().time()
            batch, self._waiting = self._waiting[:_MAX_BATCH], self._waiting[_MAX_BATCH:]
            try:
                await run_in_threadpool(self._commit, [f for f, _ in batch])
            except _TRANSIENT:  # database down or busy: keep the outcomes and retry
                log.warning("cannot record delivery outcomes; retrying", exc_info=True)
                self._waiting[:0] = batch
                # Stopping and the database still down after the longest delay: give up (the
                # delay never exceeds 5 s, so "> 5" never did). Those messages are sent again
                # once their lease ends: the at-least-once window, held open by the outage.
                if self._closing and delay >= 5.0:
                    log.error(
                        "stopping with %d delivery outcomes not recorded (database down); "
                        "those messages will be sent again",
                        len(self._waiting),
                    )
                    for _, future in self._waiting:
                        future.cancel()
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            except Exception:  # a value the database refuses: find the outcome, spare the others
                log.error("cannot record a batch of outcomes; one at a time", exc_info=True)
                left = {
                    id(f) for f in await run_in_threadpool(self._commit_each, [f for f, _ in batch])
                }
                self._waiting[:0] = [entry for entry in batch if id(entry[0]) in left]
                batch = [entry for entry in batch if id(entry[0]) not in left]
            delay = 0.1
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    def _commit(self, finished: list[Finished]) -> None:
        now = utc_now()
        if self.sqlite is not None and self.sqlite.can_record(finished):
            with self.db.sqlite_write() as connection:
                count = self.sqlite.record(
                    connection, worker=self.worker, finished=finished, now=now
                )
        else:
            with self.db.transaction(write=True) as session:
                count = repository.record(session, worker=self.worker, finished=finished, now=now)
        self.commits += 1
        self.recorded += count
        if self.on_commit is not None:
            self.on_commit(finished)

    def _commit_each(self, finished: list[Finished]) -> list[Finished]:
        """Commit each outcome alone; return those to try again (the database went down)."""
        left: list[Finished] = []
        for one in finished:
            for version in (one, _ascii_texts(one), _unrecordable(one)):
                try:
                    self._commit([version])
                except _TRANSIENT:
                    left.append(one)
                    break
                except Exception:
                    log.error(
                        "cannot record the outcome of message %s",
                        one.item.message_id,
                        exc_info=True,
                    )
                    continue
                break
        return left


def _ascii_texts(finished: Finished) -> Finished:
    """Return ``finished`` with its texts in plain ASCII (escapes for the rest)."""

    def plain(text: str) -> str:
        return text.encode("ascii", "backslashreplace").decode("ascii").replace("\0", "\\x00")

    decision = dataclasses.replace(finished.decision, text=plain(finished.decision.text))
    return Finished(finished.item, decision, plain(finished.forwarded))


def _unrecordable(finished: Finished) -> Finished:
    """Return a final failure for a message whose outcome the database refused."""
    decision = Decision(
        "failed",
        LogStatus.FAILED,
        FailureType.HARD,
        int(FailureReason.NOT_DEFINED),
        "internal error: the outcome of this try could not be recorded",
        None,
        None,
    )
    return Finished(finished.item, decision)
