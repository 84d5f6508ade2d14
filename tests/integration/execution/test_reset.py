"""Reset between tests (issue 16 item 5): every event goes, the configuration stays; events a
worker holds are waited for; the message epoch is renewed; production refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select

from execution_instance.intake.channels import EventStatus
from execution_instance.processes import SharedMemory
from execution_instance.processing.claims import Finished, mark_handed_over, record_finished
from execution_instance.processing.service import load_epoch
from execution_instance.reset.service import read_epoch, reset_events
from execution_instance.settings import ExecutionSettings
from execution_instance.state import ExecutionState, prepare_instance
from execution_instance.tables import Event, EventType, service_meta
from services.db import Database
from services.dev_credentials import CONTROL_PLANE
from services.errors import Forbidden
from services.settings import Environment
from tests.integration.execution.conftest import InstanceFactory, add_event, soap
from tests.support.soap import event_xml, push_event_envelope


@pytest.fixture
def db(db: Database) -> Database:
    """The migrated execution-instance database, with one event type and an epoch."""
    load_epoch(db)
    with db.transaction(write=True) as session:
        session.add(EventType(name="PASSWORD_RESET", label="", created_at=datetime.now(UTC)))
    return db


def _add(db: Database, *, claimed_by: str | None = None, lease: float = 60.0) -> int:
    until = datetime.now(UTC) + timedelta(seconds=lease) if claimed_by else None
    return add_event(db, claimed_by=claimed_by, claimed_until=until)


def _count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Event)).scalar_one())


def test_reset_waits_for_a_held_event_then_deletes_everything(db: Database) -> None:
    free = [_add(db) for _ in range(3)]
    held = _add(db, claimed_by="w1")
    _add(db, claimed_by="dead", lease=-5)  # a lease that ran out is no longer held
    epoch = read_epoch(db)
    pauses: list[float] = []

    def worker_finishes(seconds: float) -> None:
        # While the reset waits, the worker hands its event over and lets it go.
        pauses.append(seconds)
        assert _count(db) == 1, "every event but the held one is already gone"
        with db.write_connection() as connection:
            mark_handed_over(
                connection, [(held, "T", 1)], part_id="p", worker="w1", now=datetime.now(UTC)
            )

    outcome = reset_events(db=db, environment=Environment.DEVELOPMENT, sleep=worker_finishes)

    assert len(pauses) == 1
    assert outcome.events == len(free) + 2
    assert outcome.taken_from_workers == 0
    assert _count(db) == 0
    assert outcome.epoch != epoch
    assert read_epoch(db) == outcome.epoch
    with db.transaction() as session:  # the configuration stays
        assert session.execute(select(EventType.name)).scalars().all() == ["PASSWORD_RESET"]


def test_an_event_held_past_the_fence_is_deleted_and_its_worker_carries_on(db: Database) -> None:
    held = _add(db, claimed_by="stopped")
    outcome = reset_events(db=db, environment=Environment.DEVELOPMENT, fence_seconds=0.05)
    assert outcome.events == 1
    assert outcome.taken_from_workers == 1
    assert _count(db) == 0
    # The worker that held it records its outcome later: no row changes, nothing fails.
    with db.write_connection() as connection:
        record_finished(
            connection,
            [Finished(held, EventStatus.PROCESSED, at=datetime.now(UTC))],
            worker="stopped",
        )
    assert _count(db) == 0


def test_reset_is_refused_in_production_and_changes_nothing(db: Database) -> None:
    _add(db)
    epoch = read_epoch(db)
    with pytest.raises(Forbidden, match="refused in production"):
        reset_events(db=db, environment=Environment.PRODUCTION)
    assert _count(db) == 1
    assert read_epoch(db) == epoch


def test_reset_without_an_epoch_creates_one(db: Database) -> None:
    with db.transaction(write=True) as session:
        session.execute(delete(service_meta).where(service_meta.c.key == "message_epoch"))
    assert read_epoch(db) is None
    outcome = reset_events(db=db, environment=Environment.DEVELOPMENT)
    assert read_epoch(db) == outcome.epoch


async def test_reset_through_the_control_plane(make_instance: InstanceFactory) -> None:
    async with make_instance() as client:
        for _ in range(3):
            answer = await soap(client, push_event_envelope(event_xml()), action=PUSH)
            assert answer.status_code == 200
        state = client._transport.app.state.execution  # type: ignore[attr-defined]
        assert state.intake.pending() == 3
        epoch = state.processor.epoch

        refused = await client.post("/_mc/reset")
        assert refused.status_code == 401
        assert state.intake.pending() == 3

        answer = await client.post("/_mc/reset", auth=CONTROL_PLANE)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"events": 3, "taken_from_workers": 0}
        assert state.intake.pending() == 0  # this process's count, at once
        assert state.processor.epoch != epoch
        ping = await client.get("/nl/jsp/mcPing.jsp")
        assert "0/" in ping.text
        types = await client.get("/_mc/event-types", auth=CONTROL_PLANE)
        assert "PASSWORD_RESET" in types.json()
        again = await soap(client, push_event_envelope(event_xml()), action=PUSH)
        assert again.status_code == 200


async def test_reset_is_refused_in_production_over_http(make_instance: InstanceFactory) -> None:
    settings = {
        "environment": "production",
        "operators": {"ops": "a-long-production-password"},
        "technical_tokens": ["prod-token-0123456789"],
        "control_password": "a-long-control-password",
    }
    async with make_instance(**settings) as client:
        answer = await client.post(
            "/_mc/reset", auth=httpx.BasicAuth("mccontrol", "a-long-control-password")
        )
        assert answer.status_code == 403
        assert answer.json()["error"] == "forbidden"
        assert "refused in production" in answer.json()["message"]


PUSH = "nms:rtEvent#PushEvent"


async def test_every_process_follows_a_reset(tmp_path: Path) -> None:
    """A web process and a processing process share the generation: the one that resets
    counts 0 pending at once; the other re-reads its count and the new message epoch before
    its next request or claim."""
    settings = ExecutionSettings(data_dir=tmp_path, event_types=["PASSWORD_RESET"], workers=0)
    db = Database(settings.resolved_database_url())
    db.upgrade("execution_instance:migrations")
    prepare_instance(settings, db)
    shared = SharedMemory.create(between_processes=False)
    try:
        async with httpx.AsyncClient() as http:
            web = ExecutionState.build(settings, db, http, shared=shared)
            # The other process's view of the same memory, with its own last-seen generation.
            other_view = SharedMemory(shared._buffer)
            other = ExecutionState.build(settings, db, http, shared=other_view)
            for state in (web, other):
                state.refresh()
                state.processor.load_epoch()
            for _ in range(3):
                _add(db)
            web.refresh()
            other.refresh()
            assert other.intake.pending() == 3
            epoch = other.processor.epoch

            outcome = web.reset()
            assert web.intake.pending() == 0
            assert web.processor.epoch == outcome.epoch != epoch
            assert other.intake.pending() == 3  # until it catches up, as before any request
            other.catch_up()
            assert other.intake.pending() == 0
            assert other.processor.epoch == outcome.epoch
    finally:
        db.dispose()
