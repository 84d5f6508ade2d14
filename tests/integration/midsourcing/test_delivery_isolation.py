"""Each message fails alone, with its reason (security review F14, its informational note, F5).

An email whose From or Reply-To is not one address fails, in capture mode as with a relay, and
its ``/raw`` answers 409 accordingly; a try that raises, an outcome text the database cannot
hold, or an outcome the database refuses never holds back the other messages of a batch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from midsourcing.delivery.deliverer import CAPTURED, Tried
from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.policy import RetryPolicy, decide
from midsourcing.delivery.reasons import Attempt, FailureReason
from midsourcing.delivery.recorder import OutcomeRecorder
from midsourcing.delivery.repository import Finished
from midsourcing.delivery.sqlite_queue import SqliteQueue
from midsourcing.delivery.worker import Dispatcher, storable
from midsourcing.parts.service import append_delivery_part
from midsourcing.tables import DeliveryLogRow, Message
from services.db import Database
from services.delivery_protocol import FailureType, LogStatus
from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import (
    append,
    email,
    final_logs,
    message_of,
    part,
    settle,
)
from tests.support.smtp import SmtpSink

BAD_SENDERS = {
    "reply_to": "support@acme.test,attacker@evil.example",
    "from_address": "no-reply@acme.test>,<ceo@bank.example",
}


async def _check_refused_senders(mid: httpx.AsyncClient) -> list[str]:
    """Send one good email and the review's bad ones; check the outcome; return recipients."""
    good = email("good@example.com")
    bad_reply = email("r@example.com", reply_to=BAD_SENDERS["reply_to"])
    bad_from = email("f@example.com", from_address=BAD_SENDERS["from_address"])
    crlf = email("c@example.com", reply_to="support@acme.test\r\nBcc: evil@evil.example")
    await append(mid, part(good, bad_reply, bad_from, crlf))
    assert await settle(mid, 4) == {"sent": 1, "failed": 3}
    logs = await final_logs(mid)
    for message, header in ((bad_reply, "Reply-To"), (bad_from, "From"), (crlf, "Reply-To")):
        log = logs[message.id]
        assert (log.status, log.failure_type, log.failure_reason) == (
            LogStatus.FAILED,
            FailureType.HARD,
            int(FailureReason.REFUSED),
        )
        assert f"cannot be encoded: {header} " in log.text
        assert "not an ASCII email address" in log.text
        captured = await message_of(mid, message.id)
        assert captured["status"] == "failed" and header in captured["result"]
        raw = await mid.get(f"/api/v1/messages/{captured['id']}/raw")
        assert raw.status_code == 409  # no source, as its status says
        # the template's fault, not the recipient's: no quarantine
        assert (await mid.get(f"/api/v1/quarantine/{message.to}")).status_code == 404
    assert "contains ','" in logs[bad_reply.id].text
    good_raw = await mid.get(f"/api/v1/messages/{(await message_of(mid, good.id))['id']}/raw")
    assert good_raw.status_code == 200
    return [good.to]


async def test_a_second_mailbox_in_from_or_reply_to_fails_in_capture_mode(
    make_mid: MidFactory,
) -> None:
    async with make_mid() as mid:
        await _check_refused_senders(mid)


async def test_a_second_mailbox_in_from_or_reply_to_never_reaches_the_relay(
    make_mid: MidFactory,
) -> None:
    with SmtpSink() as sink:
        async with make_mid(smtp_host=sink.host, smtp_port=sink.port) as mid:
            delivered = await _check_refused_senders(mid)
        assert [m.rcpt_tos for m in sink.received] == [delivered]


# -- the worker and the recorder ------------------------------------------------------------------
@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh mid-sourcing database on SQLite."""
    database = Database(f"sqlite:///{tmp_path / 'mid.sqlite3'}")
    database.upgrade("midsourcing:migrations")
    try:
        yield database
    finally:
        database.dispose()


class _Troubled:
    """A deliverer whose tries raise for one recipient and answer odd texts for another."""

    async def deliver(self, item: Outgoing) -> Tried:
        if item.recipient.startswith("crash"):
            raise RuntimeError(f"boom on {item.recipient}")
        if item.recipient.startswith("garbled"):  # a relay's non-UTF-8 reply, a NUL, a control
            return Tried(Attempt.hard(FailureReason.USER_UNKNOWN, "550 Benutzer \udce4\x00\x01"))
        return Tried(Attempt.sent(CAPTURED), forwarded="ok\udcff")


async def _finished(db: Database, count: int, within: float = 15.0) -> dict[str, Message]:
    deadline = time.monotonic() + within
    while True:
        with db.transaction() as session:
            rows = list(session.scalars(select(Message)))
            session.expunge_all()
        if len(rows) == count and all(r.status in {"sent", "failed"} for r in rows):
            return {row.recipient: row for row in rows}
        if time.monotonic() > deadline:
            raise TimeoutError([(r.recipient, r.status, r.result_text) for r in rows])
        await asyncio.sleep(0.02)


async def test_a_try_that_raises_or_answers_unstorable_text_fails_alone(db: Database) -> None:
    recipients = ["crash@example.com", "garbled@example.com"]
    recipients += [f"user{n}@example.com" for n in range(8)]
    await asyncio.to_thread(
        append_delivery_part, db=db, part=part(*map(email, recipients)), now=datetime.now(UTC)
    )
    dispatcher = Dispatcher(
        db,
        deliverer=_Troubled(),  # type: ignore[arg-type]
        policy=RetryPolicy(max_tries=2, retry_seconds=0.01, retry_max_seconds=0.02),
        concurrency=20,
        claim_batch=20,  # all ten in one claim
        poll_seconds=0.02,
        lease_seconds=5.0,
    )
    await dispatcher.start()
    try:
        rows = await _finished(db, len(recipients))
    finally:
        async with asyncio.timeout(15):  # before the fix, the poison outcome never let go
            await dispatcher.stop()
    assert {r: rows[r].status for r in recipients} == {
        "crash@example.com": "failed",
        "garbled@example.com": "failed",
        **{f"user{n}@example.com": "sent" for n in range(8)},
    }
    crashed = rows["crash@example.com"]
    assert crashed.tries == 2 and "RuntimeError: boom on crash@example.com" in crashed.result_text
    garbled = rows["garbled@example.com"].result_text
    assert garbled == storable("550 Benutzer \udce4\x00\x01")
    assert garbled.startswith("550 Benutzer \ufffd") and garbled.isprintable()
    assert rows["user0@example.com"].forwarded.startswith("ok")


def _claimed(db: Database, count: int) -> list[Outgoing]:
    now = datetime.now(UTC)
    append_delivery_part(
        db=db, part=part(*(email(f"u{n}@example.com") for n in range(count))), now=now
    )
    with db.sqlite_write() as connection:
        claimed = SqliteQueue(db).claim(
            connection, worker="w", now=now, lease_until=now + timedelta(minutes=1), limit=count
        )
    return [entry.item for entry in claimed]


async def test_an_outcome_the_database_refuses_does_not_hold_back_its_batch(db: Database) -> None:
    items = await asyncio.to_thread(_claimed, db, 5)
    now = datetime.now(UTC)
    policy = RetryPolicy()
    finished = [
        Finished(item, decide(item, Attempt.sent(f"250 ok {n}"), now=now, policy=policy))
        for n, item in enumerate(items)
    ]
    # A lone surrogate: sqlite3 cannot encode it, so a commit holding it fails every time.
    poison = items[2]
    finished[2] = Finished(
        poison, decide(poison, Attempt.sent("250 ok \udce4"), now=now, policy=policy)
    )
    recorder = OutcomeRecorder(db, worker="w", sqlite=SqliteQueue(db), interval=0.0)
    await recorder.start()
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(recorder.record(f) for f in finished))
    finally:
        async with asyncio.timeout(15):
            await recorder.stop()
    with db.transaction() as session:
        stored = {m.id: (m.status, m.result_text) for m in session.scalars(select(Message))}
        logs = {row.message_id: row.text for row in session.scalars(select(DeliveryLogRow))}
    assert stored == {
        item.pk: ("sent", "250 ok \\udce4" if item is poison else f"250 ok {n}")
        for n, item in enumerate(items)
    }
    assert logs[poison.message_id] == "250 ok \\udce4"
