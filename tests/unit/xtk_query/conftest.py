"""A small schema over an in-memory SQLite table, to run compiled queries for real."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    MetaData,
    SmallInteger,
    String,
    Table,
    create_engine,
    insert,
    literal,
)
from sqlalchemy.orm import Session

from services.db import UtcDateTime
from services.xtk_query import Attribute, Schema, XtkType

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("kind", SmallInteger, nullable=False),  # the schema's filter: 0 only
    Column("status", SmallInteger, nullable=False),
    Column("email", String(64)),
    Column("flag", Boolean, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("tiny", SmallInteger),
)

ROWS = [
    {"id": 1, "kind": 0, "status": 0, "email": "ann@example.com", "flag": True},
    {"id": 2, "kind": 0, "status": 2, "email": "bob@example.org", "flag": False},
    {"id": 3, "kind": 0, "status": 4, "email": "Cid_x@example.com", "flag": False},
    {"id": 4, "kind": 0, "status": 2, "email": None, "flag": True},
    {"id": 5, "kind": 1, "status": 0, "email": "other@example.com", "flag": True},
]


def thing_schema() -> Schema:
    """Return the test schema ``tst:thing`` (rows of kind 0 only)."""
    c = things.c
    return Schema(
        name="tst:thing",
        source=things,
        attributes={
            "@id": Attribute(XtkType.INT64, c.id),
            "@status": Attribute(XtkType.SHORT, c.status),
            "@email": Attribute(XtkType.STRING, c.email),
            "@flag": Attribute(XtkType.BOOLEAN, c.flag),
            "@created": Attribute(XtkType.DATETIME, c.created),
            "@tiny": Attribute(XtkType.BYTE, c.tiny),
            "enum/@name": Attribute(XtkType.STRING, literal("eventType", String)),
        },
        key=(c.id,),
        where=c.kind == 0,
    )


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    """Yield a session on an in-memory SQLite database holding ROWS."""
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(things),
            [
                {**row, "created": datetime(2026, 11, row["id"], 10, tzinfo=UTC), "tiny": None}
                for row in ROWS
            ],
        )
    with Session(engine) as opened:
        yield opened
    engine.dispose()
