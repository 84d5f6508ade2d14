"""The monitoring statistics (``GET /_mc/stats``): one pass over the window, both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from execution_instance.intake.channels import EventStatus, Queue
from execution_instance.routes.stats import _stats
from execution_instance.tables import Event
from services.db import Database


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
    with db.write_connection() as connection:
        connection.execute(insert(Event), rows)

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
