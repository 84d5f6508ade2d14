"""The SQLite fast paths (parts, claims, outcomes) store what the session paths store, and
outcomes recorded in shared commits keep each message's status and the delivery-log order."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from midsourcing.app import create_app
from midsourcing.delivery import repository
from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.policy import RetryPolicy, decide, decide_ignored
from midsourcing.delivery.qualification import qualify_unreachable
from midsourcing.delivery.reasons import Attempt, FailureReason
from midsourcing.delivery.recorder import OutcomeRecorder
from midsourcing.delivery.repository import Claimed, Finished
from midsourcing.delivery.sqlite_queue import SqliteQueue
from midsourcing.parts import repository as parts_repository
from midsourcing.parts.service import _row, append_delivery_part
from midsourcing.quarantine.addresses import address_digest
from midsourcing.tables import Address, DeliveryLogRow, DeliveryPartRow, Message, MessageKey
from services.db import Database
from services.delivery_protocol import DeliveryMessage, DeliveryPart
from tests.integration.midsourcing.conftest import MidFactory, mid_settings
from tests.integration.midsourcing.support import (
    append,
    email,
    final_logs,
    message_of,
    part,
    settle,
    sms,
)
from tests.support.asgi import serve

NOW = datetime(2026, 11, 29, 4, 0, 0, 123456, tzinfo=UTC)
POLICY = RetryPolicy(max_tries=3, retry_seconds=1.0)


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    """Two fresh SQLite databases: one for the session path, one for the SQLite path."""
    pair = []
    for name in ("session", "sqlite"):
        db = Database(f"sqlite:///{tmp_path / name}.sqlite3")
        db.upgrade("midsourcing:migrations")
        pair.append(db)
    try:
        yield pair[0], pair[1]
    finally:
        for db in pair:
            db.dispose()


def _address(status: str, recipient: str, expires_at: datetime | None) -> Address:
    return Address(
        digest=address_digest("email", recipient),
        address=recipient,
        channel="email",
        status=status,
        failure_type="soft",
        failure_reason=3,
        error_count=1,
        text="earlier trouble",
        first_error_at=NOW - timedelta(days=1),
        last_error_at=NOW - timedelta(days=1),
        expires_at=expires_at,
    )


def _fill(db: Database, delivery_part: DeliveryPart) -> None:
    append_delivery_part(db=db, part=delivery_part, now=NOW - timedelta(seconds=5))
    with db.transaction(write=True) as session:
        session.add(_address("quarantine", "held@example.com", None))
        session.add(_address("quarantine", "expired@example.com", NOW - timedelta(hours=1)))
        session.add(_address("withErrors", "flaky@example.com", NOW + timedelta(days=9)))
        session.add(_address("withErrors", "retried@example.com", NOW + timedelta(days=9)))


def _rows(db: Database, entity: Any, order: Any) -> list[tuple[Any, ...]]:
    columns = list(entity.__table__.columns)
    with db.transaction() as session:
        return [tuple(row) for row in session.execute(select(*columns).order_by(order))]


def _outcomes(claimed: list[Claimed]) -> list[Finished]:
    finished = []
    for entry in claimed:
        item = entry.item
        if entry.quarantined:
            decision = decide_ignored(item)
        elif item.recipient.startswith("retried"):  # the relay is unreachable: retried later
            attempt = qualify_unreachable("relay.example:25: connection refused")
            decision = decide(item, attempt, now=NOW, policy=POLICY)
        else:
            decision = decide(item, Attempt.sent("250 2.0.0 Ok"), now=NOW, policy=POLICY)
        finished.append(Finished(item, decision, "forwarded" if item.channel == "sms" else ""))
    return finished


def test_claim_and_record_on_the_sqlite_path_store_what_a_session_stores(
    databases: tuple[Database, Database],
) -> None:
    session_db, sqlite_db = databases
    recipients = ["ann@example.com", "held@example.com", "expired@example.com"]
    recipients += ["flaky@example.com", "retried@example.com", "lost@example.com"]
    messages = [email(to, html="<p>Hi</p>", proof=(to == "ann@example.com")) for to in recipients]
    messages.append(sms("+33612345678"))
    delivery_part = part(*messages)
    for db in databases:
        _fill(db, delivery_part)
    lease = NOW + timedelta(seconds=15)

    with session_db.transaction(write=True) as session:
        by_session = repository.claim(
            session, worker="w1", now=NOW, lease_until=lease, limit=len(messages)
        )
    queue = SqliteQueue(sqlite_db)
    with sqlite_db.sqlite_write() as connection:
        by_sqlite = queue.claim(
            connection, worker="w1", now=NOW, lease_until=lease, limit=len(messages)
        )
    assert by_sqlite == by_session
    assert [c.item.recipient for c in by_sqlite if c.quarantined] == ["held@example.com"]
    assert {c.item.tries for c in by_sqlite} == {1}
    assert by_sqlite[0].item.proof is True and by_sqlite[0].item.created_at.tzinfo is UTC
    assert _rows(sqlite_db, Message, Message.id) == _rows(session_db, Message, Message.id)

    for db in databases:  # another worker took this message over: its outcome is not ours
        with db.transaction(write=True) as session:
            session.execute(
                update(Message)
                .where(Message.recipient == "lost@example.com")
                .values(claimed_by="w2")
            )
    finished = _outcomes(by_sqlite)
    assert SqliteQueue.can_record(finished)
    with session_db.transaction(write=True) as session:
        recorded = repository.record(session, worker="w1", finished=finished, now=NOW)
    with sqlite_db.sqlite_write() as connection:
        assert queue.record(connection, worker="w1", finished=finished, now=NOW) == recorded
    assert recorded == len(messages) - 1

    assert _rows(sqlite_db, Message, Message.id) == _rows(session_db, Message, Message.id)
    assert _rows(sqlite_db, DeliveryLogRow, DeliveryLogRow.seq) == _rows(
        session_db, DeliveryLogRow, DeliveryLogRow.seq
    )
    assert _rows(sqlite_db, Address, Address.digest) == _rows(session_db, Address, Address.digest)
    with sqlite_db.transaction() as session:
        logs = session.execute(
            select(DeliveryLogRow.message_id, DeliveryLogRow.status).order_by(DeliveryLogRow.seq)
        ).all()
        statuses = dict(session.execute(select(Message.recipient, Message.status)).all())
        addresses = set(session.execute(select(Address.address)).scalars())
    kept = [m for m in messages if m.to != "lost@example.com"]
    assert [message_id for message_id, _ in logs] == [m.id for m in kept]  # the batch's order
    assert statuses == {
        "ann@example.com": "sent",
        "held@example.com": "ignored",
        "expired@example.com": "sent",
        "flaky@example.com": "sent",
        "retried@example.com": "queued",
        "lost@example.com": "sending",
        "+33612345678": "sent",
    }
    # a success clears an address's errors; an unreachable relay is not the address's fault
    assert addresses == {"held@example.com", "expired@example.com", "retried@example.com"}


def test_parts_stored_on_the_sqlite_path_match_the_session_path(
    databases: tuple[Database, Database],
) -> None:
    session_db, sqlite_db = databases
    first = part(
        email("ann@example.com", subject="Élan — n° 42", proof=True),
        sms("+33612345678"),
        email("bob@example.com"),
    )
    again = email("carl@example.com")
    second = part(first.messages[2], again)  # one message id seen before
    with session_db.transaction(write=True) as session:
        for delivery_part, count in ((first, 3), (second, 2), (first, 3)):
            part_id, _ = parts_repository.get_or_add_part(
                session,
                part_key=delivery_part.id,
                instance=1,
                queue="rt",
                message_count=count,
                now=NOW,
            )
            ids = [m.id for m in delivery_part.messages]
            fresh = parts_repository.claim_message_ids(
                session, message_ids=ids, part_id=part_id, now=NOW
            )
            rows = [
                _row(m, part_id=part_id, now=NOW) for m in delivery_part.messages if m.id in fresh
            ]
            parts_repository.add_messages(session, rows)
    accepted = [
        append_delivery_part(db=sqlite_db, part=delivery_part, now=NOW)
        for delivery_part in (first, second, first)
    ]
    assert [(a.delivery_part_id, a.new_part, a.queued, a.duplicates) for a in accepted] == [
        (1, True, 3, 0),
        (2, True, 1, 1),
        (1, False, 0, 3),
    ]
    for entity, order in (
        (DeliveryPartRow, DeliveryPartRow.id),
        (MessageKey, MessageKey.message_id),
        (Message, Message.id),
    ):
        assert _rows(sqlite_db, entity, order) == _rows(session_db, entity, order)
    assert len(_rows(sqlite_db, Message, Message.id)) == 4


def test_a_batch_that_bounces_an_address_is_left_to_the_session_path() -> None:
    message = email("gone@example.com")
    outgoing = _outgoing_of(message)
    hard = decide(
        outgoing, Attempt.hard(FailureReason.USER_UNKNOWN, "550 5.1.1"), now=NOW, policy=POLICY
    )
    soft = decide(
        outgoing, Attempt.soft(FailureReason.MAILBOX_FULL, "452 4.2.2"), now=NOW, policy=POLICY
    )
    sent = decide(outgoing, Attempt.sent("250 ok"), now=NOW, policy=POLICY)
    assert SqliteQueue.can_record([Finished(outgoing, sent)])
    assert not SqliteQueue.can_record([Finished(outgoing, sent), Finished(outgoing, hard)])
    assert not SqliteQueue.can_record([Finished(outgoing, soft)])


def _outgoing_of(message: DeliveryMessage) -> Outgoing:
    return Outgoing(
        pk=1,
        message_id=message.id,
        instance=1,
        event_id=message.event_id,
        event_type=message.event_type,
        channel=message.channel,
        recipient=message.to,
        proof=False,
        template_version=1,
        from_name="",
        from_address="",
        reply_to="",
        subject="",
        text="",
        html="",
        title="",
        app="",
        data="",
        created_at=NOW,
        tries=1,
    )


async def test_outcomes_share_commits_yet_each_waits_for_its_own_and_keeps_its_order(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'mid'}.sqlite3")
    try:
        db.upgrade("midsourcing:migrations")
        messages = [email(f"user{n}@example.com") for n in range(30)]
        append_delivery_part(db=db, part=part(*messages), now=NOW)
        queue = SqliteQueue(db)
        with db.sqlite_write() as connection:
            claimed = queue.claim(
                connection, worker="w1", now=NOW, lease_until=NOW + timedelta(seconds=60), limit=30
            )
        committed: list[str] = []
        recorder = OutcomeRecorder(
            db,
            worker="w1",
            sqlite=queue,
            interval=0.05,
            on_commit=lambda batch: committed.extend(f.item.message_id for f in batch),
        )
        await recorder.start()
        finished = _outcomes(claimed)

        async def record(index: int, entry: Finished) -> None:
            await asyncio.sleep(index * 0.003)  # tries end one by one
            await recorder.record(entry)
            assert entry.item.message_id in committed  # never answered before its commit

        await asyncio.gather(*(record(n, f) for n, f in enumerate(finished)))
        await recorder.stop()
    finally:
        db.dispose()
    assert recorder.recorded == 30
    assert 2 <= recorder.commits <= 10  # ~90 ms of tries, commits at least 50 ms apart
    assert committed == [m.id for m in messages]
    db = Database(f"sqlite:///{tmp_path / 'mid'}.sqlite3")
    try:
        with db.transaction() as session:
            logs = session.execute(
                select(DeliveryLogRow.message_id).order_by(DeliveryLogRow.seq)
            ).scalars()
            assert list(logs) == [m.id for m in messages]
            statuses = set(session.execute(select(Message.status)).scalars())
        assert statuses == {"sent"}
    finally:
        db.dispose()


async def test_free_slots_take_a_parts_messages_at_acceptance(make_mid: MidFactory) -> None:
    async with make_mid(concurrency=2) as mid:
        dispatcher = mid._transport.app.state.mid.dispatcher  # type: ignore[attr-defined]
        # tries hold their slots long enough for a loaded machine to read the statuses (3 s was
        # not, in a CI run: the first two were sent and the queued two had taken their slots)
        await mid.put("/api/v1/chaos/email", json={"latencyMs": 10_000})
        messages = [
            email("ann@example.com"),
            email("bob+delay=1s@example.com"),  # not due yet: left to the queue
            email("carl@example.com"),
            email("dan@example.com"),  # no free slot left: queued
        ]
        await append(mid, part(*messages))
        assert dispatcher.adopted == 2
        statuses = [(await message_of(mid, m.id))["status"] for m in messages]
        assert statuses == ["sending", "queued", "sending", "queued"]
        await mid.put("/api/v1/chaos/email", json={"latencyMs": 0})  # for the tries to come
        assert await settle(mid, 4, within=60) == {"sent": 4}

        gone = email("gone+hard@example.com")
        await append(mid, part(gone))
        assert await settle(mid, 5) == {"failed": 1, "sent": 4}  # the address is quarantined
        again = email("gone+hard@example.com")
        await append(mid, part(again))  # claimed at acceptance, then found quarantined
        assert await settle(mid, 6) == {"failed": 1, "ignored": 1, "sent": 4}
        assert dispatcher.adopted == 4
        logs = await final_logs(mid)
    assert logs[again.id].failure_reason == 9  # Quarantine
    assert {logs[m.id].tries for m in messages} == {1}


async def test_messages_claimed_while_the_dispatcher_stops_are_queued_again(
    tmp_path: Path,
) -> None:
    app = create_app(mid_settings(tmp_path))
    async with serve(app):
        state = app.state.mid
        dispatcher = state.dispatcher
        reserved = dispatcher.reserve(3)
        assert reserved is not None and reserved.limit == 3
        messages = [email(f"user{n}@example.com") for n in range(3)]
        accepted = await asyncio.to_thread(
            append_delivery_part,
            db=state.db,
            part=part(*messages),
            now=datetime.now(UTC),
            claim=reserved,
        )
        assert len(accepted.claimed) == 3
        await dispatcher.stop()
        assert dispatcher.reserve(1) is None
        await dispatcher.adopt(reserved, accepted.claimed)
        with state.db.transaction() as session:
            rows = session.execute(select(Message.status, Message.tries, Message.claimed_by))
            assert list(rows) == [("queued", 0, None)] * 3
        await dispatcher.start()  # the lifespan stops it again
