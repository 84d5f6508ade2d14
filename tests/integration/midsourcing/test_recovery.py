"""Nothing accepted is lost: a dead worker's claims are taken over, a stop lets tries finish or
queues them again, and a restart delivers what was queued."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from midsourcing.app import create_app
from midsourcing.delivery import repository
from midsourcing.parts.service import append_delivery_part
from midsourcing.tables import Message
from services.db import Database
from services.delivery_protocol import LogStatus
from tests.conftest import DatabaseTarget
from tests.integration.midsourcing.conftest import MidFactory, mid_settings
from tests.integration.midsourcing.support import (
    append,
    email,
    final_logs,
    message_of,
    part,
    settle,
)
from tests.support.asgi import serve
from tests.support.smtp import SmtpSink


@pytest.mark.postgres
async def test_the_claims_of_a_dead_worker_are_taken_over_after_its_lease(
    tmp_path: Path, database_target: DatabaseTarget
) -> None:
    settings = mid_settings(
        tmp_path,
        database_url=database_target.url,
        database_schema=database_target.schema,
        lease_seconds=1.0,
    )
    db = Database(settings.resolved_database_url(), schema=settings.database_schema)
    messages = [email(f"user{i}@example.com") for i in range(10)]
    try:
        await asyncio.to_thread(db.upgrade, "midsourcing:migrations")
        now = datetime.now(UTC)
        lease_end = now + timedelta(seconds=1)
        await asyncio.to_thread(append_delivery_part, db=db, part=part(*messages), now=now)
        with db.transaction(write=True) as session:  # a worker that then dies
            claimed = repository.claim(
                session, worker="dead", now=now, lease_until=lease_end, limit=10
            )
        assert len(claimed) == 10
    finally:
        db.dispose()
    with SmtpSink() as sink:
        async with serve(
            create_app(
                settings.model_copy(
                    update={
                        "smtp_host": sink.host,
                        "smtp_port": sink.port,
                    }
                )
            )
        ) as mid:
            assert await settle(mid, 10, within=10) == {"sent": 10}
            logs = await final_logs(mid)
        assert sink.count() == 10 and max(sink.attempts.values()) == 1
        # nothing was taken from the dead worker before its lease ended
        assert min(mail.received_at for mail in sink.received) >= lease_end.timestamp()
    assert {log.tries for log in logs.values()} == {2}  # the dead worker's try counts


async def test_a_stop_lets_running_tries_finish(make_mid: MidFactory) -> None:
    async with make_mid(shutdown_grace_seconds=5) as mid:
        # a try of 2 s, well inside the grace: still running when the stop comes, even on a
        # busy machine (with 0.6 s, a starved test process once read it already sent)
        await mid.put("/api/v1/chaos/email", json={"latencyMs": 2000})
        message = email("ann@example.com")
        await append(mid, part(message))
        await asyncio.sleep(0.2)
        assert (await message_of(mid, message.id))["status"] == "sending"
    async with make_mid() as mid:
        assert (await message_of(mid, message.id))["status"] == "sent"
        assert (await final_logs(mid))[message.id].status is LogStatus.SENT


async def test_a_stop_queues_unfinished_tries_again_and_a_restart_delivers_them(
    make_mid: MidFactory, tmp_path: Path
) -> None:
    async with make_mid(shutdown_grace_seconds=0.1) as mid:
        await mid.put("/api/v1/chaos/email", json={"latencyMs": 30_000})
        messages = [email(f"u{i}@example.com") for i in range(3)]
        await append(mid, part(*messages))
        await asyncio.sleep(0.2)
        statuses = {(await message_of(mid, m.id))["status"] for m in messages}
        assert statuses == {"sending"}
    db = Database(mid_settings(tmp_path).resolved_database_url())
    try:
        with db.transaction() as session:
            rows = list(session.execute(select(Message.status, Message.tries, Message.claimed_by)))
    finally:
        db.dispose()
    assert rows == [("queued", 0, None)] * 3
    async with make_mid() as mid:  # chaos is not kept across a restart
        assert await settle(mid, 3) == {"sent": 3}
        logs = await final_logs(mid)
        assert {logs[m.id].tries for m in messages} == {1}
