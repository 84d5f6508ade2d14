"""Statistics and the archiving cursor of the control-plane API (``/_mc/stats``, ``/_mc/events``).

``GET /_mc/stats`` feeds the control instance's monitoring (campaign-facts §4.7);
``GET /_mc/events`` pages through events by ``(updated_at, id)`` so that the control instance's
archiving catches new events and every later status change (DESIGN §3.7).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from execution_instance.deps import StateDep
from execution_instance.intake.channels import EventStatus, Queue
from execution_instance.intake.service import pl_id
from execution_instance.minutes import (
    ERROR_STATUSES,
    FINAL_STATUSES,
    MINUTE,
    counted,
    minute_of,
    seconds_between,
)
from execution_instance.minutes import purge as purge_minutes
from execution_instance.routes.controlplane import provide_control_caller
from execution_instance.tables import Event, event_minutes
from services.clock import utc_now
from services.db import Database, UtcDateTime
from services.errors import InvalidRequest

__all__ = ["ERROR_STATUSES", "FINAL_STATUSES", "router"]

router = APIRouter(
    prefix="/_mc", tags=["control plane"], dependencies=[Depends(provide_control_caller)]
)

#: processed_at may come from mid-sourcing's clock, updated_at is always this instance's: the
#: window's scan by updated_at starts this much earlier so that skew between hosts loses nothing.
CLOCK_SKEW = timedelta(minutes=1)


class QueueDepth(BaseModel):
    """Pending events per queue."""

    rt: int
    batch: int


class QueuedEvents(BaseModel):
    """Events waiting in the queues, sampled over the window (Campaign's max/min/avg queued)."""

    max: int
    min: int
    avg: float
    samples: int


class InstanceStats(BaseModel):
    """What happened on this instance during the last ``window_seconds``."""

    instance_id: int
    at: datetime
    window_seconds: int
    pending: QueueDepth
    paused: int
    events_in: int
    messages_out: int
    finished: int
    errors: int
    error_rate: float  # percent of the finished events
    errors_by_status: dict[str, int]
    events_in_per_hour: float
    messages_out_per_hour: float
    avg_queuing_seconds: float | None
    avg_sending_seconds: float | None
    avg_processing_seconds: float | None
    queued_events: QueuedEvents


class ArchivedEvent(BaseModel):
    """One event as the archive sees it."""

    pl_id: int
    instance_id: int
    queue: str
    event_type: str
    status: int
    status_name: str
    channel: int
    email: str | None
    mobile_phone: str | None
    external_id: str | None
    document: str
    created_at: datetime
    processing_at: datetime | None
    processed_at: datetime | None
    updated_at: datetime
    error_count: int
    failure_reason: int | None
    error_text: str | None
    template_name: str | None
    template_version: int | None
    delivery_part: str | None


class EventPage(BaseModel):
    """A page of events in cursor order; pass ``next_cursor`` back to continue."""

    items: list[ArchivedEvent]
    next_cursor: str
    more: bool


def _stats(
    db: Database, instance_id: int, window: int, now: datetime | None = None
) -> InstanceStats:
    now = now or utc_now()
    since = now - timedelta(seconds=window)
    with db.transaction() as session:
        depth = dict(
            session.execute(
                select(Event.queue, func.count())
                .where(Event.status == int(EventStatus.PENDING))
                .group_by(Event.queue)
            ).all()
        )
        paused = session.execute(
            select(func.count()).where(Event.status == int(EventStatus.PAUSED))
        ).scalar_one()
        seen = _read_window(session, db, since, window)
    pending_now = sum(int(n) for n in depth.values())
    finished = seen.finished
    errors_by_status = {s.rest_name: finished[int(s)] for s in ERROR_STATUSES}
    errors = sum(errors_by_status.values())
    out = finished[int(EventStatus.PROCESSED)]
    done = errors + out
    hours = window / 3600
    return InstanceStats(
        instance_id=instance_id,
        at=now,
        window_seconds=window,
        pending=QueueDepth(
            rt=int(depth.get(int(Queue.REALTIME), 0)), batch=int(depth.get(int(Queue.BATCH), 0))
        ),
        paused=int(paused),
        events_in=seen.events_in,
        messages_out=out,
        finished=done,
        errors=errors,
        error_rate=round(100.0 * errors / done, 3) if done else 0.0,
        errors_by_status=errors_by_status,
        events_in_per_hour=round(seen.events_in / hours, 3),
        messages_out_per_hour=round(out / hours, 3),
        avg_queuing_seconds=seen.queuing.average,
        avg_sending_seconds=seen.sending.average,
        avg_processing_seconds=seen.processing.average,
        queued_events=_queued(seen.after, pending_now),
    )


#: How many equal steps the window is cut into to sample the queue (one a minute over an hour).
QUEUE_SAMPLES = 60
#: Statuses an event can still leave (not counted by minute: read from the events).
UNFINISHED = (EventStatus.PENDING, EventStatus.PROCESSING, EventStatus.PAUSED)
_HALF_MINUTE = timedelta(seconds=30)


def _bucket(db: Database, column: Any, since: datetime, step: float) -> ColumnElement[Any]:
    offset = seconds_between(db, column, literal(since, UtcDateTime())) / step
    return func.floor(offset) if db.is_postgres else cast(offset, Integer)


@dataclass
class _Mean:
    """A sum of seconds and how many were added."""

    total: float = 0.0
    count: int = 0

    def add(self, total: float | None, count: int) -> None:
        self.total += float(total or 0.0)
        self.count += int(count)

    @property
    def average(self) -> float | None:
        return round(self.total / self.count, 3) if self.count else None


@dataclass
class _Window:
    """What the window's rows say: arrivals, outcomes, times and the queue's movements."""

    since: datetime
    step: float  # seconds between two queue samples
    events_in: int = 0
    finished: dict[int, int] = field(default_factory=lambda: {int(s): 0 for s in FINAL_STATUSES})
    queuing: _Mean = field(default_factory=_Mean)
    sending: _Mean = field(default_factory=_Mean)
    processing: _Mean = field(default_factory=_Mean)
    #: after[k]: events that entered the queue after instant k less those that left it.
    after: list[int] = field(default_factory=lambda: [0] * (QUEUE_SAMPLES + 1))

    def arrived(self, step: int, count: int) -> None:
        self.events_in += count
        self.after[min(max(step, 0), QUEUE_SAMPLES - 1)] += count

    def departed(self, step: int, count: int) -> None:
        self.after[min(max(step, 0), QUEUE_SAMPLES - 1)] -= count


def _read_window(session: Session, db: Database, since: datetime, window: int) -> _Window:
    """Read every figure of the window: from the minutes counted, and the events elsewhere.

    The rows that count are those changed within the window: every time the statistics read
    (created, claimed, processed) is set by an insert or update, so it is never after
    ``updated_at`` (``CLOCK_SKEW`` aside). Where :mod:`execution_instance.minutes` counted the
    finished events, from the minute after the window's first whole minute on, the counts are
    read; the events are read for the rest, by ranges of ``updated_at`` and by status.
    """
    seen = _Window(since, window / QUEUE_SAMPLES)
    lower = since - CLOCK_SKEW
    done = counted(session)
    start = minute_of(since) + 2 * MINUTE
    if done is not None:
        start = max(start, done.first)
    if done is None or start >= done.until:
        _read_events(session, db, seen, Event.updated_at >= lower)
        return seen
    _read_events(session, db, seen, and_(Event.updated_at >= lower, Event.updated_at < start))
    _read_events(session, db, seen, Event.updated_at >= done.until)
    _read_events(
        session,
        db,
        seen,
        and_(
            Event.status.in_([int(s) for s in UNFINISHED]),
            Event.updated_at >= start,
            Event.updated_at < done.until,
        ),
    )
    _read_minutes(session, db, seen, start, done.until)
    return seen


def _read_events(session: Session, db: Database, seen: _Window, where: ColumnElement[bool]) -> None:
    """Add the events ``where`` selects to ``seen``, in one pass over them.

    Nothing groups by status, and only the unfinished events are selected by it: SQLite walks
    the claim index (status first) for a status, which suits the few events of the queue but
    not the finished ones, of which it holds every one ever stored. The rows are grouped by
    the queue-sampling steps of their arrival and departure, each group carrying its own
    counts and sums.

    An event is queued from ``created_at`` until it leaves the pending status: when claimed
    (``processing_at``), else when finished or paused (``processed_at``, then ``updated_at``);
    a pending event has not left.
    """
    since, step = seen.since, seen.step
    sent = Event.status == int(EventStatus.PROCESSED)
    left_at = case(
        (Event.status == int(EventStatus.PENDING), None),
        else_=func.coalesce(Event.processing_at, Event.processed_at, Event.updated_at),
    )
    arrived = Event.created_at >= since
    left = left_at >= since
    claimed = Event.processing_at >= since
    delivered = and_(sent, Event.processed_at >= since)
    keys = (
        arrived,
        _bucket(db, Event.created_at, since, step),
        left,
        _bucket(db, left_at, since, step),
    )
    finished = _finished_since(since)
    rows = session.execute(
        select(
            *keys,
            func.count(),
            *(func.count().filter(Event.status == int(s), finished) for s in FINAL_STATUSES),
            func.sum(case((claimed, seconds_between(db, Event.processing_at, Event.created_at)))),
            func.count().filter(claimed),
            func.sum(
                case((delivered, seconds_between(db, Event.processed_at, Event.processing_at)))
            ),
            func.sum(case((delivered, seconds_between(db, Event.processed_at, Event.created_at)))),
            func.count().filter(delivered),
        )
        .where(where)
        .group_by(*keys)
    ).all()
    _accumulate(seen, rows)


def _read_minutes(
    session: Session, db: Database, seen: _Window, start: datetime, end: datetime
) -> None:
    """Add the finished events counted in the minutes ``[start, end)`` to ``seen``.

    The same figures as :func:`_read_events`, from ``event_minutes``: each time is taken at the
    middle of its minute, so a minute counts as within the window when its middle is.
    """
    m = event_minutes.c
    edge = seen.since - _HALF_MINUTE
    finished = m.finished_minute >= edge
    claimed = m.claimed_minute >= edge
    delivered = and_(m.status == int(EventStatus.PROCESSED), finished)
    keys = (
        m.created_minute >= edge,
        _bucket(db, m.created_minute, edge, seen.step),
        m.left_minute >= edge,
        _bucket(db, m.left_minute, edge, seen.step),
    )
    rows = session.execute(
        select(
            *keys,
            func.sum(m.events),
            *(
                func.coalesce(func.sum(m.events).filter(m.status == int(s), finished), 0)
                for s in FINAL_STATUSES
            ),
            func.sum(m.queuing_seconds).filter(claimed),
            func.coalesce(func.sum(m.claimed).filter(claimed), 0),
            func.sum(m.sending_seconds).filter(delivered),
            func.sum(m.processing_seconds).filter(delivered),
            func.coalesce(func.sum(m.delivered).filter(delivered), 0),
        )
        .where(m.minute >= start, m.minute < end)
        .group_by(*keys)
    ).all()
    _accumulate(seen, rows)


def _accumulate(seen: _Window, rows: Sequence[Row[Any]]) -> None:
    """Add grouped rows: the four keys, the count, a count per final status, then the sums."""
    for row in rows:
        came, came_step, went, went_step, count, *rest = tuple(row)
        by_status, (queuing, claims, sending, processing, deliveries) = rest[:-5], rest[-5:]
        if came:
            seen.arrived(int(came_step), int(count))
        if went:
            seen.departed(int(went_step), int(count))
        for status, number in zip(FINAL_STATUSES, by_status, strict=True):
            seen.finished[int(status)] += int(number)
        seen.queuing.add(queuing, claims)
        seen.sending.add(sending, deliveries)
        seen.processing.add(processing, deliveries)


def _queued(after: list[int], pending_now: int) -> QueuedEvents:
    """Sample the pending queue at QUEUE_SAMPLES + 1 instants of the window, from event times.

    Walking back from the queue now, an event that arrived after an instant was not queued
    then, and one that left after it was.
    """
    samples = [pending_now]
    running = 0
    for index in range(QUEUE_SAMPLES - 1, -1, -1):
        running += after[index]
        samples.append(max(pending_now - running, 0))
    return QueuedEvents(
        max=max(samples),
        min=min(samples),
        avg=round(sum(samples) / len(samples), 3),
        samples=len(samples),
    )


def _finished_since(since: datetime) -> ColumnElement[bool]:
    # Some final statuses (routing failed, expired) may carry no processed_at: use updated_at.
    return func.coalesce(Event.processed_at, Event.updated_at) >= since


def parse_cursor(cursor: str) -> tuple[datetime, int]:
    """Return the ``(updated_at, id)`` a cursor points after."""
    if not cursor:
        return datetime(1970, 1, 1, tzinfo=UTC), 0
    stamp, _, pk = cursor.rpartition("~")
    try:
        at = datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at.astimezone(UTC), int(pk)
    except ValueError:
        raise InvalidRequest(
            "cursor must be the next_cursor of an earlier answer (<ISO 8601 time>~<id>)",
            field="cursor",
        ) from None


def format_cursor(at: datetime, pk: int) -> str:
    """Return the cursor that points after ``(at, pk)``."""
    return f"{at.astimezone(UTC).isoformat()}~{pk}"


#: What an archived event is made of, read as plain rows (no ORM objects: a page is 500 events).
_ARCHIVED_COLUMNS = (
    Event.id,
    Event.queue,
    Event.event_type,
    Event.status,
    Event.wished_channel,
    Event.email,
    Event.mobile_phone,
    Event.external_id,
    Event.document,
    Event.created_at,
    Event.processing_at,
    Event.processed_at,
    Event.updated_at,
    Event.error_count,
    Event.failure_reason,
    Event.error_text,
    Event.template_name,
    Event.template_version,
    Event.delivery_part,
)
_STATUS_NAMES = {int(status): status.rest_name for status in EventStatus}


def _page(db: Database, instance_id: int, cursor: str, limit: int) -> bytes:
    """Return the JSON of an :class:`EventPage` (built without validating what the database
    holds, and serialized once: the archive reads every event at least once)."""
    at, pk = parse_cursor(cursor)
    changed = Event.updated_at  # set on every insert and update (see tables.Event)
    with db.transaction() as session:
        rows = session.execute(
            select(*_ARCHIVED_COLUMNS)
            # changed >= at first: without it the OR hides the range from the planner, which
            # walks the index from the oldest change (a second with a million events).
            .where(changed >= at, or_(changed > at, and_(changed == at, Event.id > pk)))
            .order_by(changed, Event.id)
            .limit(limit + 1)
        ).all()
    items = [_archived(row, instance_id) for row in rows[:limit]]
    if items:
        last = items[-1]
        next_cursor = format_cursor(last.updated_at, last.pl_id & ((1 << 56) - 1))
    else:
        next_cursor = cursor
    page = EventPage.model_construct(items=items, next_cursor=next_cursor, more=len(rows) > limit)
    return page.model_dump_json().encode()


def _archived(row: Any, instance_id: int) -> ArchivedEvent:
    return ArchivedEvent.model_construct(
        pl_id=pl_id(instance_id, row.id),
        instance_id=instance_id,
        queue="rt" if row.queue == Queue.REALTIME else "batch",
        event_type=row.event_type,
        status=row.status,
        status_name=_STATUS_NAMES[row.status],
        channel=row.wished_channel,
        email=row.email,
        mobile_phone=row.mobile_phone,
        external_id=row.external_id,
        document=row.document,
        created_at=row.created_at,
        processing_at=row.processing_at,
        processed_at=row.processed_at,
        updated_at=row.updated_at or row.created_at,
        error_count=row.error_count,
        failure_reason=row.failure_reason,
        error_text=row.error_text,
        template_name=row.template_name,
        template_version=row.template_version,
        delivery_part=row.delivery_part,
    )


@router.get("/stats", response_model=InstanceStats)
async def read_stats(
    state: StateDep,
    window: Annotated[
        int, Query(ge=60, le=7 * 86400, description="Seconds to look back (default one hour).")
    ] = 3600,
) -> InstanceStats:
    """Return queue depth, throughput, error rate and average times over the last window."""
    return await run_in_threadpool(_stats, state.db, state.identity.value, window)


@router.get("/events", response_model=EventPage)
async def page_events(
    state: StateDep,
    cursor: Annotated[str, Query(max_length=80, description="next_cursor of the last page.")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> Response:
    """Return events changed after the cursor, oldest change first (for archiving)."""
    page = await run_in_threadpool(_page, state.db, state.identity.value, cursor, limit)
    return Response(page, media_type="application/json")


class PurgeOutcome(BaseModel):
    """How many finished events a purge deleted."""

    purged: int


def _purge(db: Database, before: datetime) -> int:
    with db.transaction(write=True) as session:
        result = session.execute(
            delete(Event).where(
                Event.status.in_([int(s) for s in FINAL_STATUSES]), Event.updated_at < before
            )
        )
        purge_minutes(session, before)
        return int(result.rowcount)  # type: ignore[attr-defined]


@router.delete("/events", response_model=PurgeOutcome)
async def purge_events(
    state: StateDep,
    before: Annotated[
        datetime, Query(description="Delete finished events last changed before this time.")
    ],
) -> PurgeOutcome:
    """Delete finished events (sent, failed, ignored, expired) last changed before a time."""
    if before.tzinfo is None:
        raise InvalidRequest("before needs a time zone (ISO 8601, e.g. ...Z)", field="before")
    return PurgeOutcome(purged=await run_in_threadpool(_purge, state.db, before))
