"""The group-commit event writer: ids in order, and on SQLite the same rows as SQLAlchemy writes.

On SQLite the writer inserts through the sqlite3 driver and derives the ids from
``last_insert_rowid()``; these tests hold it to what an ordinary SQLAlchemy insert stores and
returns, on both backends when MCSIM_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from execution_instance.intake.writer import EventWriter
from execution_instance.tables import Event
from services.db import Database


def _row(email: str, now: datetime, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "queue": 0,
        "event_type": "PASSWORD_RESET",
        "status": 0,
        "wished_channel": 0,
        "email": email,
        "mobile_phone": None,
        "push_token": None,
        "mobile_app": None,
        "external_id": None,
        "origin": None,
        "language": None,
        "country": None,
        "email_format": 0,
        "scheduled": None,
        "expiration": None,
        "document": f'<rtEvent type="PASSWORD_RESET" email="{email}"><ctx/></rtEvent>',
        "source": "soap",
        "idempotency_key": None,
        "request_digest": None,
        "created_at": now,
        "next_attempt_at": now,
        "error_count": 0,
    }
    row.update(changes)
    return row


async def test_concurrent_writes_get_the_ids_of_their_own_rows_in_order(db: Database) -> None:
    writer = EventWriter(db)
    await writer.start()
    now = datetime.now(UTC)
    try:
        requests = [
            [_row(f"u{r}-{i}@example.com", now) for i in range(r % 5 + 1)] for r in range(40)
        ]
        results = await asyncio.gather(*(writer.write(rows) for rows in requests))
    finally:
        await writer.stop()
    assert writer.commits < len(requests)  # several requests shared a commit
    with db.transaction() as session:
        stored = {pk: email for pk, email in session.execute(select(Event.id, Event.email))}
    assert len(stored) == sum(len(rows) for rows in requests)
    for rows, ids in zip(requests, results, strict=True):
        assert [stored[pk] for pk in ids] == [row["email"] for row in rows]


async def test_the_writer_stores_what_a_sqlalchemy_insert_stores(db: Database) -> None:
    # Every column a caller sets; datetimes with and without microseconds, one not in UTC.
    now = datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)
    later = datetime(2026, 11, 30, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    rows = [
        _row("a@example.com", now),
        _row(
            "b@example.com",
            now + timedelta(microseconds=7),
            queue=1,
            wished_channel=41,
            mobile_phone="+447700900123",
            push_token="tok",
            mobile_app="uuid-1",
            external_id="ext",
            origin="shop",
            language="fr",
            country="FR",
            email_format=2,
            scheduled=later,
            expiration=later + timedelta(days=1),
            idempotency_key="key-1",
            request_digest="d" * 64,
        ),
    ]
    writer = EventWriter(db)
    await writer.start()
    try:
        ids = await writer.write(rows)
    finally:
        await writer.stop()
    # The same rows through SQLAlchemy (the unique idempotency key changed), in the same table.
    reference_rows = [rows[0], {**rows[1], "idempotency_key": "key-2"}]
    with db.transaction(write=True) as session:
        reference_ids = list(
            session.execute(
                insert(Event).returning(Event.id, sort_by_parameter_order=True), reference_rows
            ).scalars()
        )
    skipped = {"id", "updated_at", "idempotency_key"}
    columns = [c.name for c in Event.__table__.columns if c.name not in skipped]
    # Raw values as the database holds them: on SQLite, the very text of every datetime.
    query = text(f"SELECT {', '.join(columns)}, updated_at FROM events WHERE id = :pk")
    with db.transaction() as session:
        written = [tuple(session.execute(query, {"pk": pk}).one()) for pk in ids]
        expected = [tuple(session.execute(query, {"pk": pk}).one()) for pk in reference_ids]
        emails = session.execute(select(Event.email).where(Event.id.in_(ids)).order_by(Event.id))
        keys = session.execute(select(Event.idempotency_key).where(Event.id == ids[1]))
        assert list(emails.scalars()) == ["a@example.com", "b@example.com"]
        assert keys.scalar_one() == "key-1"
    assert [row[:-1] for row in written] == [row[:-1] for row in expected]
    assert all(row[-1] is not None for row in written)  # updated_at: the archiving cursor


async def test_a_large_write_spanning_several_statements_keeps_its_order(db: Database) -> None:
    # More rows than one multi-row INSERT holds on SQLite (1,362 rows: statements of 1,000, 200,
    # 50, 50, 50 and 12 rows): the ids still follow the rows.
    writer = EventWriter(db)
    await writer.start()
    now = datetime.now(UTC)
    try:
        first, second = await asyncio.gather(
            writer.write([_row(f"a{i}@example.com", now) for i in range(1311)]),
            writer.write([_row(f"b{i}@example.com", now) for i in range(51)]),
        )
    finally:
        await writer.stop()
    with db.transaction() as session:
        stored = {pk: email for pk, email in session.execute(select(Event.id, Event.email))}
    assert [stored[pk] for pk in first] == [f"a{i}@example.com" for i in range(1311)]
    assert [stored[pk] for pk in second] == [f"b{i}@example.com" for i in range(51)]
    assert len(stored) == 1362


async def test_a_refused_write_stores_nothing_and_spares_the_others(db: Database) -> None:
    # A duplicate Idempotency-Key fails its own request with SQLAlchemy's IntegrityError (REST
    # relies on the type); the requests that shared its commit are stored, each only once.
    writer = EventWriter(db)
    await writer.start()
    now = datetime.now(UTC)
    try:
        await writer.write([_row("first@example.com", now, idempotency_key="k")])
        outcomes = await asyncio.gather(
            writer.write([_row("ok1@example.com", now)]),
            writer.write(
                [_row(f"dup{i}@example.com", now) for i in range(60)]
                + [_row("dup@example.com", now, idempotency_key="k")]
            ),
            writer.write([_row("ok2@example.com", now)]),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert isinstance(outcomes[1], IntegrityError)
    with db.transaction() as session:
        emails = sorted(session.execute(select(Event.email)).scalars())
    assert emails == ["first@example.com", "ok1@example.com", "ok2@example.com"]
