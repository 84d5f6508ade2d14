"""AppendDeliveryPart is durable and idempotent, and the queue is claimed safely, on SQLite and
PostgreSQL: a retried part or a message id sent twice is delivered once; two servers sharing
one database never deliver a message twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from midsourcing.parts.service import append_delivery_part
from midsourcing.tables import Message
from services.db import Database
from tests.conftest import DatabaseTarget
from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import (
    append,
    email,
    final_logs,
    part,
    pull_logs,
    settle,
)
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.postgres


async def test_the_same_part_twice_gets_the_same_id_and_is_delivered_once(
    make_mid_on: MidFactory,
) -> None:
    with SmtpSink() as sink:
        async with make_mid_on(smtp_host=sink.host, smtp_port=sink.port) as mid:
            first = part(email("ann@example.com"), email("bob@example.com"))
            part_id = await append(mid, first)
            assert await append(mid, first) == part_id
            assert await append(mid, first) == part_id
            third = part(email("cid@example.com"))
            assert await append(mid, third) != part_id
            assert await settle(mid, 3) == {"sent": 3}
            logs, _ = await pull_logs(mid)
            expected = [m.id for m in first.messages + third.messages]
            assert sorted(log.message_id for log in logs) == sorted(expected)
        assert sink.count() == 3
        assert sink.count("ann@example.com") == 1


async def test_a_message_id_in_two_parts_is_delivered_once(make_mid_on: MidFactory) -> None:
    with SmtpSink() as sink:
        async with make_mid_on(smtp_host=sink.host, smtp_port=sink.port) as mid:
            shared = email("ann@example.com")
            await append(mid, part(shared, email("bob@example.com")))
            await append(mid, part(shared, email("cid@example.com")))
            # The same id twice inside one part counts once too.
            twice = email("dan@example.com")
            await append(mid, part(twice, twice))
            assert await settle(mid, 4) == {"sent": 4}
            logs = await final_logs(mid)
            assert len(logs) == 4
        assert sink.count("ann@example.com") == 1
        assert sink.count("dan@example.com") == 1
        assert sink.count() == 4


async def test_concurrent_retries_of_one_part_store_it_once(
    database_target: DatabaseTarget,
) -> None:
    db = Database(database_target.url, schema=database_target.schema)
    try:
        await asyncio.to_thread(db.upgrade, "midsourcing:migrations")
        shared = email("ann@example.com")
        parts = [part(shared, email(f"u{i}@example.com"), part_id="same") for i in range(8)]
        results = await asyncio.gather(
            *(
                asyncio.to_thread(append_delivery_part, db=db, part=p, now=datetime.now(UTC))
                for p in parts
            )
        )
        assert len({r.delivery_part_id for r in results}) == 1
        assert sum(r.new_part for r in results) == 1
        # Each call queues its new messages; the shared one is queued by exactly one call.
        assert sum(r.queued for r in results) == 1 + 8
        with db.transaction() as session:
            ids = list(session.execute(select(Message.message_id)).scalars())
            assert session.execute(select(func.count()).select_from(Message)).scalar_one() == 9
        assert Counter(ids)[shared.id] == 1
    finally:
        db.dispose()


async def test_two_servers_sharing_one_database_deliver_each_message_once(
    make_mid_on: MidFactory,
) -> None:
    with SmtpSink() as sink:
        async with (
            make_mid_on(smtp_host=sink.host, smtp_port=sink.port, claim_batch=7) as first,
            make_mid_on(smtp_host=sink.host, smtp_port=sink.port, claim_batch=5) as second,
        ):
            messages = [email(f"user{i}@example.com") for i in range(120)]
            for start in range(0, 120, 20):
                target = first if start % 40 == 0 else second
                await append(target, part(*messages[start : start + 20]))
            assert await settle(first, 120, within=30) == {"sent": 120}
            logs, _ = await pull_logs(second)
        assert sink.count() == 120
        assert max(sink.attempts.values()) == 1
        assert sorted(log.message_id for log in logs) == sorted(m.id for m in messages)
        seqs = [log.seq for log in logs]
        assert seqs == sorted(seqs) and len(set(seqs)) == 120


async def test_an_instance_above_127_gets_its_logs_with_its_negative_event_ids(
    make_mid_on: MidFactory,
) -> None:
    with SmtpSink() as sink:
        async with make_mid_on(smtp_host=sink.host, smtp_port=sink.port) as mid:
            sent = part(email("ann@example.com", instance=200), instance=200)
            (message,) = sent.messages
            assert message.event_id < 0  # the sign bit is the top bit of instance 200
            await append(mid, sent)
            assert await settle(mid, 1) == {"sent": 1}
            logs = await final_logs(mid, instance=200)
            assert [(log.event_id, log.status.value) for log in logs.values()] == [
                (message.event_id, "sent")
            ]
            assert await final_logs(mid, instance=72) == {}
            found = await mid.get("/api/v1/messages", params={"q": str(message.event_id)})
            assert [m["eventId"] for m in found.json()["messages"]] == [str(message.event_id)]
