"""The monitoring statistics (``GET /_mc/stats``): one pass over the window, both databases."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select

from execution_instance import minutes
from execution_instance.intake.channels import EventStatus, Queue
from execution_instance.reset.service import reset_events
from execution_instance.routes.stats import _purge, _stats
from execution_instance.tables import Event, event_minutes
from services.db import Database
from services.settings import Environment


def _event(
    now: datetime,
    status: EventStatus,
    created: timedelta,
    claimed: timedelta | None = None,
    done: timedelta | None = None,
    queue: Queue = Queue.REALTIME,
) -> dict[str, Any]:
    """An event created, claimed and finished the given time before ``now``."""
    times = [now - ago for ago in (created, claimed, done) if ago is not None]
    return {
        "queue": int(queue),
        "event_type": "ORDER",
        "status": int(status),
        "document": "<rtEvent/>",
        "source": "soap",
        "created_at": now - created,
        "next_attempt_at": now - created,
        "processing_at": None if claimed is None else now - claimed,
        "processed_at": None if done is None else now - done,
        "updated_at": max(times),
    }


def _store(db: Database, rows: list[dict[str, Any]]) -> None:
    with db.write_connection() as connection:
        connection.execute(insert(Event), rows)


def _queue_at(rows: list[dict[str, Any]], instant: datetime) -> int:
    """How many events were queued at an instant: arrived before it and not yet left."""
    queued = 0
    for row in rows:
        left = row["processing_at"] or row["processed_at"] or row["updated_at"]
        if row["status"] == int(EventStatus.PENDING):
            left = None
        if row["created_at"] < instant and (left is None or left >= instant):
            queued += 1
    return queued


def test_the_window_counts_only_its_own_events_and_times(db: Database) -> None:
    # Every time sits half a minute off the queue-sampling steps (one a minute over the hour).
    m = timedelta(minutes=1)
    half = timedelta(seconds=30)
    # Taken here, not at import: the suite may reach this test minutes after collecting it.
    now = datetime.now(UTC)
    rows = [
        # two hours ago, finished then: outside the hour, whatever its status
        _event(now, EventStatus.PROCESSED, 120 * m + half, 119 * m + half, 110 * m + half),
        _event(now, EventStatus.DELIVERY_FAILED, 120 * m + half, 119 * m + half, 118 * m + half),
        # came before the window, claimed and sent inside it (queued 20 min, sending 2 min)
        _event(now, EventStatus.PROCESSED, 70 * m + half, 50 * m + half, 48 * m + half),
        # inside: sent (queued 1 min, sending 1 min), failed, ignored, routing failed
        _event(now, EventStatus.PROCESSED, 30 * m + half, 29 * m + half, 28 * m + half),
        _event(now, EventStatus.DELIVERY_FAILED, 30 * m + half, 29 * m + half, 20 * m + half),
        _event(now, EventStatus.IGNORED, 20 * m + half, 19 * m + half, 19 * m + half),
        _event(now, EventStatus.ROUTING_FAILED, 15 * m + half, None, 15 * m + half),
        # still queued: one for 45 minutes, one batch event for 5
        _event(now, EventStatus.PENDING, 45 * m + half),
        _event(now, EventStatus.PENDING, 5 * m + half, queue=Queue.BATCH),
        _event(now, EventStatus.PAUSED, 10 * m + half, None, 9 * m + half),
    ]
    _store(db, rows)

    stats = _stats(db, 1, 3600)

    assert (stats.pending.rt, stats.pending.batch, stats.paused) == (1, 1, 1)
    assert stats.events_in == 7  # created within the hour
    assert (stats.finished, stats.messages_out, stats.errors) == (5, 2, 3)
    assert stats.errors_by_status == {
        "routingFailed": 1,
        "tooOld": 0,
        "deliveryFailed": 1,
        "ignored": 1,
    }
    assert stats.error_rate == 60.0
    # claimed within the hour: queued 20, 1, 1 and 1 minute(s)
    assert stats.avg_queuing_seconds == pytest.approx((20 + 1 + 1 + 1) * 60 / 4, abs=0.01)
    # sent within the hour: 2 and 1 minutes from claim, 22 and 2 from arrival
    assert stats.avg_sending_seconds == pytest.approx(90, abs=0.01)
    assert stats.avg_processing_seconds == pytest.approx((22 + 2) * 60 / 2, abs=0.01)
    # The queue at the start of each minute of the hour, and now, as a count over the rows.
    since = now - timedelta(hours=1)
    expected = [_queue_at(rows, since + k * m) for k in range(60)] + [2]
    queued = stats.queued_events
    assert queued.samples == 61
    assert (queued.max, queued.min) == (max(expected), min(expected))
    assert queued.avg == round(sum(expected) / 61, 3)
    assert (max(expected), min(expected)) == (3, 0)  # the rows do test something


def test_an_empty_window_has_no_averages(db: Database) -> None:
    stats = _stats(db, 1, 3600)
    assert (stats.events_in, stats.finished, stats.error_rate) == (0, 0, 0.0)
    assert stats.avg_queuing_seconds is None
    assert stats.avg_sending_seconds is None
    assert (stats.queued_events.max, stats.queued_events.min) == (0, 0)


# -- the counts by minute (execution_instance.minutes) -------------------------------------------


def _week_of_events(now: datetime) -> list[dict[str, Any]]:
    """Events of every kind over the last two days, some finished long after they came.

    Times fall anywhere within their minute; the windows read below start on a minute.
    """
    rng = random.Random(15)
    finished = list(minutes.FINAL_STATUSES)
    rows = []
    for _ in range(600):
        created = timedelta(seconds=rng.uniform(0, 2 * 86400))
        kind = rng.random()
        if kind < 0.1:  # still queued, or paused
            status = rng.choice([EventStatus.PENDING, EventStatus.PAUSED])
            done = None if status is EventStatus.PENDING else created * rng.uniform(0, 1)
            rows.append(_event(now, status, created, None, done))
            continue
        claimed = created * rng.uniform(0.5, 1) if kind > 0.3 else created - timedelta(seconds=1)
        if kind < 0.15:  # claimed and handed over, not finished yet
            rows.append(_event(now, EventStatus.PROCESSING, created, claimed))
            continue
        status = rng.choice(finished)
        done = claimed * rng.uniform(0, 1)
        if status is EventStatus.ROUTING_FAILED:
            claimed = None
        rows.append(_event(now, status, created, claimed, done))
    return rows


#: Windows whose queue-sampling steps are whole minutes (an hour and more): exact.
WINDOWS = (3600, 4 * 3600, 86400, 2 * 86400)


def test_the_counted_minutes_give_the_figures_of_the_events(db: Database) -> None:
    now = minutes.minute_of(datetime.now(UTC))  # windows that start on a minute
    _store(db, _week_of_events(now))
    from_events = {window: _stats(db, 1, window, now) for window in (*WINDOWS, 600)}

    counted = minutes.roll_up(db, now)

    with db.transaction() as session:
        finished = session.execute(
            select(func.count()).where(
                Event.status.in_([int(s) for s in minutes.FINAL_STATUSES]),
                Event.updated_at < now - minutes.SETTLE,
            )
        ).scalar_one()
    assert counted == finished > 400
    for window in WINDOWS:
        assert _stats(db, 1, window, now) == from_events[window], window
    # Ten minutes sampled every ten seconds: a counted event is sampled at the middle of its
    # minute; everything else is exact.
    short, expected = _stats(db, 1, 600, now), from_events[600]
    assert short.model_copy(update={"queued_events": None}) == expected.model_copy(
        update={"queued_events": None}
    )
    assert short.queued_events.avg == pytest.approx(expected.queued_events.avg, rel=0.01)
    # The day is read from the counts, but for its first minutes and its last ones: the
    # counted events themselves are no longer needed.
    with db.write_connection() as connection:
        gone = connection.execute(
            delete(Event).where(
                Event.status.in_([int(s) for s in minutes.FINAL_STATUSES]),
                Event.updated_at >= now - timedelta(days=1) + 3 * minutes.MINUTE,
                Event.updated_at < now - timedelta(hours=1),
            )
        )
    assert gone.rowcount > 200
    assert _stats(db, 1, 86400, now) == from_events[86400]


def test_each_finished_event_is_counted_once(db: Database) -> None:
    # 50 s into a minute: the second count starts within the minute of the event it counts.
    now = minutes.minute_of(datetime.now(UTC)) + timedelta(seconds=50)
    m, s = timedelta(minutes=1), timedelta(seconds=1)
    _store(
        db,
        [
            _event(now, EventStatus.PROCESSED, 10 * m, 9 * m, 8 * m),
            _event(now, EventStatus.DELIVERY_FAILED, 10 * m, 9 * m, 5 * m),
            _event(now, EventStatus.PROCESSING, 10 * m, 9 * m),  # not finished
            _event(now, EventStatus.IGNORED, 2 * m, 116 * s, 115 * s),  # not settled
        ],
    )
    assert minutes.roll_up(db, now) == 2
    assert minutes.roll_up(db, now) == 0  # nothing counted twice
    assert minutes.roll_up(db, now + 5 * m) == 1  # the ignored one, settled
    with db.transaction() as session:
        total = session.execute(select(func.sum(event_minutes.c.events))).scalar_one()
        done = minutes.counted(session)
    assert total == 3
    assert done is not None and done.until == now + 3 * m


def test_a_reset_and_a_purge_forget_what_they_delete(db: Database) -> None:
    now = datetime.now(UTC)
    h = timedelta(hours=1)
    _store(
        db,
        [
            _event(now, EventStatus.PROCESSED, 30 * h, 30 * h, 29 * h),
            _event(now, EventStatus.PROCESSED, 3 * h, 3 * h, 2 * h),
        ],
    )
    minutes.roll_up(db, now)
    assert _stats(db, 1, 2 * 86400, now).messages_out == 2

    assert _purge(db, now - 24 * h) == 1
    assert _stats(db, 1, 2 * 86400, now).messages_out == 1

    reset_events(db=db, environment=Environment.DEVELOPMENT, fence_seconds=0)
    assert _stats(db, 1, 2 * 86400, now).messages_out == 0
    with db.transaction() as session:
        assert minutes.counted(session) is None
