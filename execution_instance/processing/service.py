"""Workers that turn pending events into messages handed to mid-sourcing, and the status sync.

One pass of a worker: claim due events; expire those past ``expiration``; route each to the most
recent published template of its queue (none: routingFailed; paused: paused); render it (an error:
deliveryFailed, with the error kept on the event); hand all messages to mid-sourcing as one
delivery part; mark them ``processing``. When mid-sourcing cannot be reached (or the hand-over
fails in an unexpected way), the events go back to the queue with exponential backoff and
jitter, and become ``tooOld`` once their validity has passed. The status sync reads delivery
logs with a cursor and gives events their final status.

Whatever goes wrong with one event is that event's failure alone, never its batch's: any error
while routing, reading or rendering it, push data that is not a JSON object, or a message that
cannot join a part (no recipient, a character XML cannot carry — see
:func:`~services.delivery_protocol.message_problem`) makes it deliveryFailed with the reason
kept on it; a part mid-sourcing refuses whole is halved until the message it refuses is alone.

The workers' transactions (claims, statuses, the sync cursor) do not wait for an fsync
(``Database.write_connection(durable=False)``): only an operating-system crash or a power cut can
take one back, and all of it is redone safely. A lost claim or status is retaken when its lease
ends or re-read from the delivery logs; a message handed over again keeps its id, on which
mid-sourcing is idempotent, so it is not sent twice. Accepted events stay durable (the intake
writer commits with an fsync), and so does everything mid-sourcing records.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from lxml import etree
from starlette.concurrency import run_in_threadpool

from execution_instance import minutes
from execution_instance.identity import Identity
from execution_instance.intake.channels import Channel, EventStatus, Queue
from execution_instance.intake.service import pl_id
from execution_instance.processing import claims
from execution_instance.processing.claims import ClaimedEvent, Finished
from execution_instance.tables import service_meta
from execution_instance.templates.service import PublishedTemplate, TemplateService
from services.clock import utc_now
from services.db import Database
from services.delivery_client import (
    DeliveryClient,
    DeliveryClientError,
    PartTooLarge,
    UnsendablePart,
)
from services.delivery_protocol import (
    XML_ILLEGAL,
    DeliveryLog,
    DeliveryMessage,
    DeliveryPart,
    LogStatus,
    message_problem,
)
from services.personalization import EventData, TemplateEngine
from services.personalization.errors import TemplateRuntimeError
from services.plid import instance_of, pk_of

__all__ = ["Processor", "ProcessorSettings", "load_epoch"]

log = logging.getLogger("mcsim.processing")

_CHANNEL_NAMES = {
    Channel.EMAIL: "email",
    Channel.SMS: "sms",
    Channel.IOS: "ios",
    Channel.ANDROID: "android",
}
_FINAL_STATUS = {
    LogStatus.SENT: EventStatus.PROCESSED,
    LogStatus.IGNORED: EventStatus.IGNORED,
    LogStatus.FAILED: EventStatus.DELIVERY_FAILED,
}
_T = TypeVar("_T")
_CURSOR_KEY = "delivery_log_cursor"
_EPOCH_KEY = "message_epoch"


@dataclass(frozen=True)
class ProcessorSettings:
    """How the workers behave (from ExecutionSettings)."""

    workers: int = 2
    batch_size: int = 100
    lease_seconds: float = 60.0
    idle_poll_seconds: float = 1.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    validity_seconds: float = 432_000.0
    sync_seconds: float = 0.5


@dataclass
class _Batch:
    finished: list[Finished] = field(default_factory=list)
    messages: list[DeliveryMessage] = field(default_factory=list)
    routes: dict[int, tuple[str, int]] = field(default_factory=dict)  # event id → template


class Processor:
    """The processing workers and the status sync of one execution instance."""

    def __init__(
        self,
        db: Database,
        templates: TemplateService,
        engine: TemplateEngine,
        mid: DeliveryClient,
        settings: ProcessorSettings,
        identity: Identity,
    ) -> None:
        self.db = db
        self.identity = identity
        self.templates = templates
        self.engine = engine
        self.mid = mid
        self.settings = settings
        # Events of the workers waiting for work; notify() wakes one of them, not all.
        self._idle: list[asyncio.Event] = []
        self._pending = False  # new events arrived while no worker was waiting
        self._tasks: list[asyncio.Task[None]] = []
        self._threads: set[asyncio.Future[Any]] = set()
        self._thread: ThreadPoolExecutor | None = None
        self.handed_over = 0
        self.epoch = "0"
        #: Runs before each claim, in the claiming thread (caches of other processes' changes).
        self.before_claim: Callable[[], None] | None = None

    @property
    def instance_id(self) -> int:
        """Return this instance's id (in message ids and plIds)."""
        return self.identity.value

    # -- life cycle ---------------------------------------------------------------------------
    def load_epoch(self) -> None:
        """Read (or create) this database's epoch, a random tag in every message id."""
        self.epoch = load_epoch(self.db)

    def start(self, *, sync: bool = True) -> None:
        """Start the workers and (``sync``) the status sync."""
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="processing")
        for number in range(self.settings.workers):
            name = f"exec{self.instance_id}-w{number}-{uuid.uuid4().hex[:8]}"
            self._tasks.append(asyncio.create_task(self._work(name), name=name))
        if self.settings.workers and sync:
            self._tasks.append(asyncio.create_task(self._sync(), name="status-sync"))
            self._tasks.append(asyncio.create_task(self._count_minutes(), name="event-minutes"))

    async def stop(self) -> None:
        """Stop the workers; events they held are retaken when their lease ends.

        A cancelled worker's database call goes on in its thread: wait for it, so that no
        connection is opened after the database is disposed.
        """
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks.clear()
        while self._threads:
            done, _ = await asyncio.wait(set(self._threads))
            for future in done:  # their callers are gone: read their outcome here
                if not future.cancelled():
                    future.exception()
        if self._thread is not None:
            self._thread.shutdown(wait=False)
            self._thread = None

    async def _blocking(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` in the processing thread; :meth:`stop` waits for it even if its
        caller is gone.

        One thread runs the blocking work (claims, renders, statuses) of every worker of this
        process, and of the status sync: the workers overlap their hand-overs (network waits)
        with each other's claiming and rendering, but never render in two threads at once,
        where the two would only take turns on the GIL at a cost (``benchmarks.render``: twice
        the CPU per message on four threads). Measured in the stack (``benchmarks.drain``):
        6 % less CPU per event in the processing process, the median of three pairs.
        """
        future: asyncio.Future[_T]
        if self._thread is None:
            future = asyncio.ensure_future(run_in_threadpool(fn, *args))
        else:
            loop = asyncio.get_running_loop()
            future = loop.run_in_executor(self._thread, functools.partial(fn, *args))
        self._threads.add(future)
        future.add_done_callback(self._threads.discard)
        return await asyncio.shield(future)

    def notify(self) -> None:
        """New events arrived: wake one waiting worker (all would race for the same events)."""
        if self._idle:
            self._idle.pop().set()
        else:
            self._pending = True  # the next worker to finish its batch claims again at once

    # -- the workers --------------------------------------------------------------------------
    async def _work(self, worker: str) -> None:
        claim = True  # False: wait for a wake-up (or the idle poll) before claiming
        while True:
            if not claim:
                await self._wait_for_events()
            self._pending = False  # this claim sees every event committed before it starts
            failed = False
            try:
                events, batch = await self._blocking(self._claim_and_prepare, worker)
            except Exception:
                log.exception("cannot claim or prepare events", extra={"worker": worker})
                events, batch, failed = [], _Batch(), True
            if events:
                try:
                    await self.process(events, batch, worker=worker)
                except Exception:  # the lease expires and another pass retakes the events
                    log.exception(
                        "processing failed", extra={"worker": worker, "events": len(events)}
                    )
            # A claim short of a batch took every event due when it ran: claim again only if
            # events arrived since (a steady trickle would otherwise pay an empty claim for
            # each event). Events that become due with time wait at most the idle poll.
            full = len(events) >= self.settings.batch_size
            claim = (full or self._pending) and not failed

    async def _wait_for_events(self) -> None:
        """Wait for :meth:`notify`, at most ``idle_poll_seconds``."""
        wakeup = asyncio.Event()
        self._idle.append(wakeup)
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancel.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.idle_poll_seconds):
                    await wakeup.wait()
        finally:
            if wakeup in self._idle:
                self._idle.remove(wakeup)

    def _claim(self, worker: str) -> list[ClaimedEvent]:
        with self.db.write_connection(durable=False) as session:
            return claims.claim_due(
                session,
                worker=worker,
                now=utc_now(),
                limit=self.settings.batch_size,
                lease=self.settings.lease_seconds,
                postgres=self.db.is_postgres,
            )

    def _claim_and_prepare(self, worker: str) -> tuple[list[ClaimedEvent], _Batch]:
        """Claim, route and render, and record the events that end here: one thread hop."""
        if self.before_claim is not None:
            self.before_claim()
        events = self._claim(worker)
        batch = self._prepare(events) if events else _Batch()
        if batch.finished:
            self._record(batch.finished, worker)
        return events, batch

    async def process(self, events: list[ClaimedEvent], batch: _Batch, *, worker: str) -> None:
        """Hand the rendered messages of claimed events over to mid-sourcing."""
        if not batch.messages:
            return
        queue = "batch" if events[0].queue == Queue.BATCH else "rt"
        retry = any(e.error_count for e in events)
        await self._hand_over(
            batch.messages, events, batch, queue=queue, retry=retry, worker=worker
        )

    async def _hand_over(
        self,
        messages: list[DeliveryMessage],
        events: list[ClaimedEvent],
        batch: _Batch,
        *,
        queue: str,
        retry: bool,
        worker: str,
    ) -> None:
        """Hand ``messages`` over as one part; a part refused whole is halved until the message
        it is refused for is alone, so that one message never fails the others."""
        part = DeliveryPart(
            id=f"exec{self.instance_id}-{uuid.uuid4().hex}",
            instance=self.instance_id,
            queue=queue,
            messages=messages,
        )
        ids = [_pk(m.event_id) for m in messages]
        try:
            outcome = await self.mid.append_delivery_part(part, retry=retry)
        except UnsendablePart as exc:  # nothing of it was accepted: a smaller part may be
            if not isinstance(exc, PartTooLarge):  # every message was checked: a bug
                log.error("a part cannot be written", extra={"part": part.id, "error": str(exc)})
            refused = str(exc)
        except DeliveryClientError as exc:
            await self._blocking(self._retry_later, events, ids, worker, str(exc))
            return
        except Exception as exc:
            # Whether mid-sourcing took the part is unknown. Sending it again is safe (it is
            # idempotent on message ids): the events wait with backoff, as when mid-sourcing
            # cannot be reached, instead of staying claimed until their lease ends.
            log.exception("unexpected error handing a part over", extra={"part": part.id})
            error = f"unexpected error handing the message over: {exc!r}"
            await self._blocking(self._retry_later, events, ids, worker, error)
            return
        else:
            if not outcome.fatal_error:
                handed = [(i, *batch.routes[i]) for i in ids]
                await self._blocking(self._handed_over, handed, part.id, worker)
                self.handed_over += len(handed)
                return
            refused = outcome.fatal_error_message
        if len(messages) > 1:
            middle = len(messages) // 2
            for half in (messages[:middle], messages[middle:]):
                await self._hand_over(half, events, batch, queue=queue, retry=retry, worker=worker)
            return
        name, version = batch.routes[ids[0]]
        log.warning(
            "mid-sourcing refused a message",
            extra={"event": ids[0], "template": name, "error": refused},
        )
        failed = Finished(
            ids[0],
            EventStatus.DELIVERY_FAILED,
            error=_reason(refused),
            template_name=name,
            template_version=version,
            at=utc_now(),
        )
        await self._blocking(self._record, [failed], worker)

    def _prepare(self, events: list[ClaimedEvent]) -> _Batch:
        """Route and render each event; whatever goes wrong with one event is its failure alone."""
        batch = _Batch()
        now = utc_now()
        for event in events:
            template: PublishedTemplate | None = None
            try:
                routed = self._route(event, now)
                if isinstance(routed, Finished):
                    batch.finished.append(routed)
                    continue
                template = routed
                message = self._message(event, template)
                problem = message_problem(message)
                if problem is not None:
                    raise _Refused(
                        f"the message rendered by template {template.name} cannot be handed "
                        f"over: {problem}"
                    )
            except TemplateRuntimeError as exc:
                error = f"{exc.message}" + (f" ({exc.detail})" if exc.detail else "")
            except _Refused as exc:
                error = str(exc)
                log.warning("event failed", extra={"event": event.id, "error": error})
            except Exception as exc:
                where = f" with template {template.name}" if template is not None else ""
                error = f"cannot prepare the message{where}: {type(exc).__name__}: {exc}"
                log.exception("cannot prepare an event", extra={"event": event.id})
            else:
                batch.messages.append(message)
                batch.routes[event.id] = (template.name, template.version)
                continue
            batch.finished.append(
                Finished(
                    event.id,
                    EventStatus.DELIVERY_FAILED,
                    error=_reason(error),
                    template_name=template.name if template is not None else None,
                    template_version=template.version if template is not None else None,
                    at=now,
                )
            )
        return batch

    def _route(self, event: ClaimedEvent, now: datetime) -> PublishedTemplate | Finished:
        """Return the template of ``event``, or the status it ends with before rendering."""
        if event.expiration is not None and event.expiration < now:
            return Finished(
                event.id, EventStatus.TOO_OLD, error="expired before it was processed", at=now
            )
        channel, queue = Channel(event.wished_channel), Queue(event.queue)
        template = self.templates.route(event.event_type, channel, queue)
        if template is None:
            return Finished(
                event.id,
                EventStatus.ROUTING_FAILED,
                error=f"no published template for event type {event.event_type}, "
                f"channel {_CHANNEL_NAMES[channel]}, queue {queue.name.lower()}",
                at=now,
            )
        if template.paused:
            return Finished(
                event.id,
                EventStatus.PAUSED,
                template_name=template.name,
                template_version=template.version,
            )
        return template

    def _message(self, event: ClaimedEvent, template: PublishedTemplate) -> DeliveryMessage:
        data = EventData.from_element(etree.fromstring(event.document))
        out = self.engine.render_fields(template.fields, data)
        channel = Channel(event.wished_channel)
        common = {
            "id": f"{self.instance_id}-{self.epoch}-{event.id}",
            "event_id": pl_id(self.instance_id, event.id),
            "event_type": event.event_type,
            "channel": _CHANNEL_NAMES[channel],
            "template_version": template.version,
        }
        if channel is Channel.EMAIL:
            html = "" if event.email_format == 1 else out["html"]
            text = "" if event.email_format == 2 and out["html"] else out["text"]
            return DeliveryMessage(
                to=event.email or "",
                subject=out["subject"],
                html=html,
                text=text,
                from_name=out["from_name"],
                from_address=out["from_address"],
                reply_to=out["reply_to"],
                **common,  # type: ignore[arg-type]
            )
        if channel is Channel.SMS:
            return DeliveryMessage(to=event.mobile_phone or "", text=out["text"], **common)  # type: ignore[arg-type]
        data_text = out["data"].strip()
        if data_text:
            _check_push_data(data_text, template.name)
        return DeliveryMessage(
            to=event.push_token or "",
            title=out["title"],
            text=out["body"],
            app=event.mobile_app or "",
            data=data_text,
            **common,  # type: ignore[arg-type]
        )

    def _record(self, finished: list[Finished], worker: str) -> None:
        with self.db.write_connection(durable=False) as session:
            claims.record_finished(session, finished, worker=worker)

    def _handed_over(self, handed: list[tuple[int, str, int]], part_id: str, worker: str) -> None:
        with self.db.write_connection(durable=False) as session:
            claims.mark_handed_over(session, handed, part_id=part_id, worker=worker, now=utc_now())

    def _retry_later(
        self, events: list[ClaimedEvent], ids: list[int], worker: str, error: str
    ) -> None:
        now = utc_now()
        wanted = set(ids)
        waiting = [e for e in events if e.id in wanted]
        too_old = [
            Finished(e.id, EventStatus.TOO_OLD, error=f"mid-sourcing unreachable: {error}", at=now)
            for e in waiting
            if (now - e.created_at).total_seconds() > self.settings.validity_seconds
        ]
        old_ids = {f.event_id for f in too_old}
        again = [e for e in waiting if e.id not in old_ids]
        attempts = max((e.error_count for e in again), default=0) + 1
        delay = min(
            self.settings.retry_max_seconds, self.settings.retry_base_seconds * 2 ** (attempts - 1)
        ) * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not a secret
        log.warning(
            "hand-over failed; retrying later",
            extra={"events": len(again), "retry_in_s": round(delay, 2), "error": error},
        )
        with self.db.write_connection(durable=False) as session:
            claims.record_finished(session, too_old, worker=worker)
            if again:
                claims.reschedule(
                    session,
                    [e.id for e in again],
                    worker=worker,
                    at=now + timedelta(seconds=delay),
                    error=error,
                )

    # -- the status sync ----------------------------------------------------------------------
    async def _sync(self) -> None:
        cursor = await self._blocking(self._load_cursor)
        while True:
            try:
                logs, next_cursor = await self.mid.get_delivery_logs(
                    cursor=cursor, limit=500, instance_id=self.instance_id
                )
                if logs or next_cursor != cursor:
                    await self._blocking(self._apply_logs, logs, next_cursor)
                    cursor = next_cursor
                if len(logs) == 500:
                    continue
            except DeliveryClientError as exc:
                log.info("cannot read delivery logs yet", extra={"error": str(exc)})
            except Exception:
                log.exception("status sync failed")
            await asyncio.sleep(self.settings.sync_seconds)

    async def _count_minutes(self) -> None:
        """Count finished events by minute for the statistics (:mod:`..minutes`)."""
        while True:
            try:
                await self._blocking(minutes.roll_up, self.db, utc_now())
            except Exception:  # the statistics read the events meanwhile
                log.warning("cannot count finished events by minute", exc_info=True)
            await asyncio.sleep(minutes.EVERY)

    def _load_cursor(self) -> str:
        with self.db.transaction() as session:
            value = session.execute(
                service_meta.select().where(service_meta.c.key == _CURSOR_KEY)
            ).first()
        return value.value if value is not None else "0"

    def _apply_logs(self, logs: list[DeliveryLog], cursor: str) -> None:
        # Only logs of this database's messages: after a reset the pks start again, and a late
        # log of a message sent before it names an event id that a new event now holds. The
        # epoch in every message id tells them apart (read here: a reset renews it).
        ours = f"{self.instance_id}-{load_epoch(self.db)}-"
        delivered = [
            claims.Delivered(
                _pk(entry.event_id),
                status,
                # A reason the column cannot hold would fail the whole page, every time.
                failure_reason=entry.failure_reason if 0 < entry.failure_reason < 2**15 else None,
                error=entry.text or None if status is not EventStatus.PROCESSED else None,
                at=entry.at,
            )
            for entry in logs
            if (status := _FINAL_STATUS.get(entry.status)) is not None
            and instance_of(entry.event_id) == self.instance_id
            and entry.message_id.startswith(ours)
        ]
        with self.db.write_connection(durable=False) as session:
            claims.apply_delivered(session, delivered)
            existing = session.execute(
                service_meta.select().where(service_meta.c.key == _CURSOR_KEY)
            ).first()
            if existing is None:
                session.execute(service_meta.insert().values(key=_CURSOR_KEY, value=cursor))
            else:
                session.execute(
                    service_meta.update()
                    .where(service_meta.c.key == _CURSOR_KEY)
                    .values(value=cursor)
                )


def load_epoch(db: Database) -> str:
    """Read (or create) the database's epoch, a random tag in every message id.

    Message ids must be unique across the cell for as long as mid-sourcing remembers them:
    an execution instance whose database was reset restarts its pks at 1, but not its epoch.
    """
    with db.write_connection() as session:
        row = session.execute(service_meta.select().where(service_meta.c.key == _EPOCH_KEY)).first()
        if row is None:
            epoch = uuid.uuid4().hex[:8]
            session.execute(service_meta.insert().values(key=_EPOCH_KEY, value=epoch))
        else:
            epoch = str(row.value)
    return epoch


def _pk(event_id: int) -> int:
    return pk_of(event_id)


class _Refused(Exception):
    """A message that must not join a delivery part; its text says why."""


_REASON_LIMIT = 2000
_JSON_KINDS = {
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _reason(text: str) -> str:
    """Return ``text`` as an event's error: characters no database or XML document can hold
    (NUL, other controls) replaced, and cut to a readable length."""
    text = XML_ILLEGAL.sub("\ufffd", text)
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"


def _check_push_data(text: str, template: str) -> None:
    """Raise _Refused unless the rendered push ``data`` is a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise _Refused(
            f"the push data rendered by template {template} is not a JSON object: {exc}"
        ) from None
    if not isinstance(value, dict):
        raise _Refused(
            f"the push data rendered by template {template} is not a JSON object: "
            f"it is {_JSON_KINDS.get(type(value), 'not an object')}"
        )
