"""The configuration's version: moved by the database on every change, read every second.

Each process re-reads its caches (event types, templates, operators, tokens, instance id,
clock) only when ``config_version`` moved, so a change that does not move it would stay unseen
by the other processes and replicas: each kind of change is tried here, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from execution_instance.intake.channels import Channel, Queue
from execution_instance.settings import ExecutionSettings
from execution_instance.state import ExecutionState, prepare_instance
from execution_instance.tables import config_version, service_meta
from services.clock import ClockChange
from services.db import Database
from tests.conftest import DatabaseTarget
from tests.integration.execution.conftest import add_event

pytestmark = pytest.mark.postgres

CONTENT = {"subject": "Hi <%= ctx.firstName %>", "html": "<p>Hi</p>", "text": "Hi"}


@asynccontextmanager
async def two_processes(
    target: DatabaseTarget, tmp_path: Path
) -> AsyncIterator[tuple[Database, ExecutionState, ExecutionState]]:
    """Two states on one database, as two replicas (or two processes without a shared
    generation) see it: the first changes, the second only learns by refreshing."""
    settings = ExecutionSettings(data_dir=tmp_path, event_types=["PASSWORD_RESET"], workers=0)
    db = Database(target.url, schema=target.schema)
    db.upgrade("execution_instance:migrations")
    prepare_instance(settings, db)
    try:
        async with httpx.AsyncClient() as http:
            one = ExecutionState.build(settings, db, http)
            other = ExecutionState.build(settings, db, http)
            for state in (one, other):
                state.refresh()
            yield db, one, other
    finally:
        db.dispose()


def version(db: Database) -> int:
    with db.transaction() as session:
        return int(session.execute(select(config_version.c.version)).scalar_one())


def publish(state: ExecutionState, name: str = "reset") -> None:
    state.templates.publish(
        name=name,
        event_type="PASSWORD_RESET",
        channel=Channel.EMAIL,
        version=1,
        content=CONTENT,
        queues=[Queue.REALTIME],
    )


def change_clock(state: ExecutionState) -> None:
    state.move_clock(ClockChange(advance="1h"))


CHANGES: dict[str, Callable[[ExecutionState], object]] = {
    "an event type added": lambda s: s.intake.add_event_types([("ORDER", "Order")]),
    "an event type removed": lambda s: s.intake.remove_event_type("PASSWORD_RESET"),
    "a template published": publish,
    "an operator added": lambda s: s.security.set_operator(login="ann", password="pw-ann-1"),
    "an operator removed": lambda s: s.security.remove_operator(login="mc"),
    "a technical token added": lambda s: s.security.set_technical_token(
        token="t" * 40, label="shop", login="mc"
    ),
    "the instance id assigned": lambda s: s.identity.assign(7),
    "the clock moved": change_clock,
    "a reset": lambda s: s.reset(),
}


@pytest.mark.parametrize("change", list(CHANGES))
async def test_every_change_of_the_configuration_moves_its_version(
    database_target: DatabaseTarget, tmp_path: Path, change: str
) -> None:
    async with two_processes(database_target, tmp_path) as (db, one, other):
        before = version(db)
        CHANGES[change](one)
        assert version(db) > before
        reloads = _count_reloads(other)
        other.refresh()
        assert reloads() == 1
        assert other.config_seen == version(db)


async def test_the_other_process_serves_what_changed_after_its_refresh(
    database_target: DatabaseTarget, tmp_path: Path
) -> None:
    async with two_processes(database_target, tmp_path) as (_, one, other):
        one.intake.add_event_types([("ORDER", "Order")])
        publish(one, "order")
        one.security.set_operator(login="ann", password="pw-ann-1")
        one.identity.assign(9)
        assert "ORDER" not in other.intake.known_types()  # not before its refresh
        other.refresh()
        assert "ORDER" in other.intake.known_types()
        assert other.templates.route("PASSWORD_RESET", Channel.EMAIL, Queue.REALTIME) is not None
        assert other.identity.value == 9


async def test_a_refresh_without_a_change_only_counts_the_queue(
    database_target: DatabaseTarget, tmp_path: Path
) -> None:
    async with two_processes(database_target, tmp_path) as (db, _, other):
        reloads = _count_reloads(other)
        for _ in range(3):
            other.refresh()
        assert reloads() == 0
        # The status sync's cursor is written several times a second: not configuration.
        with db.transaction(write=True) as session:
            session.execute(service_meta.insert().values(key="delivery_log_cursor", value="42"))
        with db.transaction(write=True) as session:
            session.execute(
                service_meta.update()
                .where(service_meta.c.key == "delivery_log_cursor")
                .values(value="43")
            )
        other.refresh()
        assert reloads() == 0
        add_event(db)  # the queue is still re-counted every time
        other.refresh()
        assert other.intake.pending() == 1
        assert reloads() == 0


def _count_reloads(state: ExecutionState) -> Callable[[], int]:
    """Count the full reloads of ``state`` from now on."""
    calls = []
    reload = state.reload

    def counted() -> None:
        calls.append(1)
        reload()

    state.reload = counted  # type: ignore[method-assign]
    return lambda: len(calls)
