"""Purges: archived events past 360 days; finished, archived events on the instances past 30."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from control_instance.archive.service import purge_archive, purge_instances
from control_instance.state import ControlState
from control_instance.tables import ArchivedEvent
from execution_instance.intake.channels import EventStatus
from execution_instance.tables import Event
from tests.integration.archive.helpers import PK_MASK, finish, hand_over, instance, push
from tests.integration.control.conftest import Cell, exec_url


def control(cell: Cell) -> ControlState:
    """Return the control instance's state."""
    state: ControlState = cell.control_app.state.control
    return state


def age(cell: Cell, number: int, pl_ids: list[int], days: int) -> None:
    """Make events look last changed ``days`` ago on their instance."""
    at = datetime.now(UTC) - timedelta(days=days)
    with instance(cell, number).db.transaction(write=True) as session:
        session.execute(
            update(Event).where(Event.id.in_([p & PK_MASK for p in pl_ids])).values(updated_at=at)
        )


def remaining(cell: Cell, number: int) -> set[int]:
    """Return the pks still stored on an instance."""
    with instance(cell, number).db.transaction() as session:
        return set(session.execute(select(Event.id)).scalars())


async def test_instances_purge_only_old_finished_and_archived_events(cell: Cell) -> None:
    admin = await cell.login()
    old_sent, old_failed, old_pending, recent_sent = await push(cell, 1, count=4)
    hand_over(cell, 1, [old_sent, recent_sent])
    finish(cell, 1, [old_sent, recent_sent], EventStatus.PROCESSED)
    finish(cell, 1, [old_failed], EventStatus.DELIVERY_FAILED)
    age(cell, 1, [old_sent, old_failed, old_pending], 40)
    (unread,) = await push(cell, 2)
    finish(cell, 2, [unread], EventStatus.PROCESSED)
    age(cell, 2, [unread], 40)

    cell.switches[exec_url(2)].down = True  # exec2 is never archived
    await cell.control.post("/api/v1/events/archive", headers=admin)
    cell.switches[exec_url(2)].down = False

    purged = await purge_instances(state=control(cell))
    assert purged == {"exec1": 2}
    assert remaining(cell, 1) == {old_pending & PK_MASK, recent_sent & PK_MASK}
    assert remaining(cell, 2) == {unread & PK_MASK}
    # The archive keeps them all.
    history = await cell.control.get("/api/v1/events", params={"instance": 1}, headers=admin)
    assert history.json()["total"] == 4


async def test_instances_keep_events_the_archive_has_not_read(cell: Cell) -> None:
    (sent,) = await push(cell, 1)
    finish(cell, 1, [sent], EventStatus.PROCESSED)
    age(cell, 1, [sent], 40)
    assert await purge_instances(state=control(cell)) == {}
    assert remaining(cell, 1) == {sent & PK_MASK}


async def test_the_archive_purges_events_past_its_retention(cell: Cell) -> None:
    admin = await cell.login()
    await push(cell, 1, count=2)
    await cell.control.post("/api/v1/events/archive", headers=admin)
    state = control(cell)
    assert purge_archive(db=state.db, retention_days=360) == 0
    later = datetime.now(UTC) + timedelta(days=361)
    assert purge_archive(db=state.db, retention_days=360, now=later) == 2
    with state.db.transaction() as session:
        assert session.execute(select(func.count()).select_from(ArchivedEvent)).scalar_one() == 0


async def test_the_purge_endpoint_needs_a_zoned_time(cell: Cell) -> None:
    answer = await cell.mc(exec_url(1), "DELETE", "/events", params={"before": "2020-01-01T00:00"})
    assert answer.status_code == 400
    ok = await cell.mc(exec_url(1), "DELETE", "/events", params={"before": "2020-01-01T00:00Z"})
    assert ok.json() == {"purged": 0}
