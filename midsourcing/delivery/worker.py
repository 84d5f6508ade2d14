"""The delivery workers of one mid-sourcing process.

One dispatcher claims due messages in batches (one transaction each) while fewer than
``concurrency`` tries are running, and starts one asyncio task per message: quarantine check,
magic recipients, chaos, connector, then the outcome goes to the group-commit recorder. A
heartbeat extends the leases of the messages being sent. New parts wake the dispatcher at once;
otherwise it polls (retries and other processes' parts become due over time). On SQLite, a part
accepted while slots are free has its due messages claimed in its own transaction
(:meth:`Dispatcher.reserve`, :meth:`Dispatcher.adopt`): one commit, not two, per part.

Each message fails alone: a try that raises ends as that message's failure (retried, as the
relay's trouble would be), and the texts of an outcome are made storable (a relay's reply that is
not UTF-8, a NUL, a control character) before they join the batch of a commit or a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import re
import secrets
import time
from collections.abc import Sequence
from datetime import timedelta

from starlette.concurrency import run_in_threadpool

from midsourcing.delivery import repository
from midsourcing.delivery.deliverer import Deliverer
from midsourcing.delivery.policy import RetryPolicy, decide, decide_ignored
from midsourcing.delivery.qualification import qualify_unreachable
from midsourcing.delivery.recorder import COMMIT_INTERVAL, OutcomeRecorder
from midsourcing.delivery.repository import ClaimAtAcceptance, Claimed, Finished
from midsourcing.delivery.sqlite_queue import SqliteQueue
from services.clock import utc_now
from services.db import Database

__all__ = ["Dispatcher", "storable"]

log = logging.getLogger("mcsim.mid.worker")
# What neither a database column nor an XML delivery log can hold: NUL and the other C0
# controls but tab and line ends, and U+FFFE/U+FFFF.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def storable(text: str) -> str:
    """Return ``text`` fit for the database and an XML log: bad characters become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: a reply decoded with surrogateescape
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return _UNSTORABLE.sub("\ufffd", text)


class Dispatcher:
    """Claim due messages and deliver them, at most ``concurrency`` at a time."""

    def __init__(
        self,
        db: Database,
        *,
        deliverer: Deliverer,
        policy: RetryPolicy,
        concurrency: int,
        claim_batch: int,
        poll_seconds: float,
        lease_seconds: float,
        grace_seconds: float = 10.0,
        commit_interval: float = COMMIT_INTERVAL,
    ) -> None:
        self.db = db
        self.deliverer = deliverer
        self.policy = policy
        self.concurrency = concurrency
        self.claim_batch = claim_batch
        self.poll_seconds = poll_seconds
        self.lease_seconds = lease_seconds
        self.grace_seconds = grace_seconds
        self.worker = secrets.token_hex(8)
        self.sqlite = SqliteQueue(db) if db.is_sqlite else None
        self.recorder = OutcomeRecorder(
            db, worker=self.worker, sqlite=self.sqlite, interval=commit_interval
        )
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._wakeup = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._closing = False
        self._reserved = 0  # slots promised to parts being accepted (see reserve)
        self._tasks: list[asyncio.Task[None]] = []
        self.delivered = 0
        self.adopted = 0

    def wake(self) -> None:
        """Look for work now (a part was just accepted)."""
        self._wakeup.set()

    def reserve(self, wanted: int) -> ClaimAtAcceptance | None:
        """Reserve free slots for the messages of a part about to be accepted (SQLite only).

        The part's transaction then stores up to that many of its new messages already claimed
        by this worker, and :meth:`adopt` starts their tries: no claim transaction (and no
        thread hand-off) of their own. ``None`` when nothing can be reserved.
        """
        free = self.concurrency - len(self._inflight) - self._reserved
        limit = min(wanted, free, self.claim_batch)
        if self.sqlite is None or self._closing or limit <= 0:
            return None
        self._reserved += limit
        lease_until = utc_now() + timedelta(seconds=self.lease_seconds)
        return ClaimAtAcceptance(worker=self.worker, lease_until=lease_until, limit=limit)

    async def adopt(self, reserved: ClaimAtAcceptance | None, claimed: Sequence[Claimed]) -> None:
        """Start the tries of messages claimed at acceptance; give the reservation back."""
        if reserved is None:
            return
        self._reserved -= reserved.limit
        self._slot_freed.set()
        if not claimed:
            return
        if self._closing:  # stopping: queue them again at once (their leases would expire too)
            await run_in_threadpool(self._release, [entry.item.pk for entry in claimed])
            return
        self.adopted += len(claimed)
        self._start(claimed)

    def _start(self, claimed: Sequence[Claimed]) -> None:
        for entry in claimed:
            task = asyncio.create_task(self._try(entry), name=f"mid-try-{entry.item.pk}")
            self._inflight[entry.item.pk] = task
            task.add_done_callback(functools.partial(self._done, entry.item.pk))

    @property
    def in_flight(self) -> int:
        """Return how many tries are running."""
        return len(self._inflight)

    async def start(self) -> None:
        """Start the dispatcher, the heartbeat and the recorder."""
        await self.recorder.start()
        self._tasks = [
            asyncio.create_task(self._run(), name="mid-dispatcher"),
            asyncio.create_task(self._heartbeat(), name="mid-heartbeat"),
        ]

    async def stop(self) -> None:
        """Stop claiming, let running tries finish for a while, then queue the rest again."""
        self._closing = True
        self._wakeup.set()
        self._slot_freed.set()
        dispatcher, heartbeat = self._tasks
        await dispatcher
        running = list(self._inflight.values())
        if running:
            await asyncio.wait(running, timeout=self.grace_seconds)
        unfinished = [pk for pk, task in self._inflight.items() if not task.done()]
        for task in self._inflight.values():
            task.cancel()
        await asyncio.gather(*self._inflight.values(), return_exceptions=True)
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        await self.recorder.stop()
        if unfinished:
            await run_in_threadpool(self._release, unfinished)

    def _release(self, pks: list[int]) -> None:
        try:
            with self.db.transaction(write=True) as session:
                repository.release_claims(session, worker=self.worker, pks=pks, now=utc_now())
        except Exception:  # their leases expire anyway
            log.warning("cannot release unfinished claims", exc_info=True)

    async def _run(self) -> None:
        # Refill in batches: a claim is a write transaction, so claiming one message each time
        # a try ends would cost a commit per message and delay the recorder's commits.
        refill = max(1, min(self.claim_batch, self.concurrency) // 4)
        while not self._closing:
            free = self.concurrency - len(self._inflight) - self._reserved
            if free < refill and (self._inflight or self._reserved):
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._wakeup.clear()
            try:
                claimed = await run_in_threadpool(self._claim, min(free, self.claim_batch))
            except Exception:
                log.warning("cannot claim messages", exc_info=True)
                claimed = []
            self._start(claimed)
            if len(claimed) < min(free, self.claim_batch):
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancel.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await self._wakeup.wait()

    def _claim(self, limit: int) -> list[Claimed]:
        now = utc_now()
        lease_until = now + timedelta(seconds=self.lease_seconds)
        if self.sqlite is not None:
            with self.db.sqlite_write() as connection:
                return self.sqlite.claim(
                    connection, worker=self.worker, now=now, lease_until=lease_until, limit=limit
                )
        with self.db.transaction(write=True) as session:
            return repository.claim(
                session, worker=self.worker, now=now, lease_until=lease_until, limit=limit
            )

    def _done(self, pk: int, task: asyncio.Task[None]) -> None:
        self._inflight.pop(pk, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery try failed", exc_info=task.exception())
        self._slot_freed.set()

    async def _try(self, entry: Claimed) -> None:
        item = entry.item
        forwarded = ""
        if entry.quarantined:
            decision = decide_ignored(item)
        else:
            try:
                tried = await self.deliverer.deliver(item)
                attempt, forwarded = tried.attempt, tried.forwarded
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not lose the message: retry it later
                log.exception("delivery try crashed", extra={"message_id": item.message_id})
                attempt = qualify_unreachable(f"internal error: {type(exc).__name__}: {exc}")
            attempt = dataclasses.replace(attempt, text=storable(attempt.text))
            decision = decide(item, attempt, now=utc_now(), policy=self.policy)
        await self.recorder.record(Finished(item, decision, storable(forwarded)))
        if decision.status == "sent":
            self.delivered += 1

    async def _heartbeat(self) -> None:
        interval = max(self.lease_seconds / 3, 0.05)
        while True:
            await asyncio.sleep(interval)
            if not self._inflight:
                continue
            started = time.monotonic()
            try:
                await run_in_threadpool(self._extend)
            except Exception:
                log.warning("cannot extend leases", exc_info=True)
            if time.monotonic() - started > interval:
                log.warning(
                    "lease heartbeat is slow", extra={"seconds": time.monotonic() - started}
                )

    def _extend(self) -> None:
        lease_until = utc_now() + timedelta(seconds=self.lease_seconds)
        with self.db.transaction(write=True) as session:
            repository.extend_leases(session, worker=self.worker, lease_until=lease_until)
