"""Delivery logs give events their final status in one statement, never overwriting one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from execution_instance.intake.channels import EventStatus
from execution_instance.processing.claims import Delivered, apply_delivered
from execution_instance.tables import Event
from services.db import Database
from tests.conftest import DatabaseTarget


@pytest.fixture
def db(database_target: DatabaseTarget) -> Iterator[Database]:
    """Yield a migrated execution-instance database."""
    database = Database(database_target.url, schema=database_target.schema)
    database.upgrade("execution_instance:migrations")
    yield database
    database.dispose()


def _add(db: Database, status: EventStatus) -> int:
    now = datetime.now(UTC)
    row = {
        "queue": 0,
        "event_type": "PASSWORD_RESET",
        "status": int(status),
        "wished_channel": 0,
        "email": "a@example.com",
        "email_format": 0,
        "document": "<rtEvent/>",
        "source": "soap",
        "created_at": now,
        "next_attempt_at": now,
        "error_count": 0,
        "claimed_by": "w1",
    }
    with db.transaction(write=True) as session:
        return int(session.execute(insert(Event).returning(Event.id), [row]).scalar_one())


def test_many_logs_apply_at_once_and_final_statuses_stay(db: Database) -> None:
    processing = [_add(db, EventStatus.PROCESSING) for _ in range(3)]
    pending = _add(db, EventStatus.PENDING)  # the log was read before the hand-over committed
    done = _add(db, EventStatus.ROUTING_FAILED)
    at = datetime(2026, 11, 29, 1, 0, 0, 123000, tzinfo=UTC)
    delivered = [
        Delivered(processing[0], EventStatus.PROCESSED, failure_reason=None, error=None, at=at),
        Delivered(processing[1], EventStatus.DELIVERY_FAILED, 2, "550 unknown user", at),
        Delivered(processing[2], EventStatus.IGNORED, 9, "quarantined", at),
        Delivered(pending, EventStatus.PROCESSED, None, None, at),
        Delivered(done, EventStatus.PROCESSED, None, None, at),
        # A second log of the same event (read again): the first final status stays.
        Delivered(processing[0], EventStatus.DELIVERY_FAILED, 2, "late", at + timedelta(1)),
    ]
    with db.transaction(write=True) as session:
        apply_delivered(session, delivered)
    with db.transaction() as session:
        rows = {e.id: e for e in session.execute(select(Event)).scalars()}
    first = rows[processing[0]]
    assert (first.status, first.error_text, first.processed_at) == (EventStatus.PROCESSED, None, at)
    assert first.claimed_by is None and first.updated_at is not None
    failed = rows[processing[1]]
    assert (failed.status, failed.failure_reason, failed.error_text) == (
        EventStatus.DELIVERY_FAILED,
        2,
        "550 unknown user",
    )
    assert rows[processing[2]].status == EventStatus.IGNORED
    assert rows[pending].status == EventStatus.PROCESSED
    assert rows[done].status == EventStatus.ROUTING_FAILED
    assert rows[done].claimed_by == "w1"  # untouched
