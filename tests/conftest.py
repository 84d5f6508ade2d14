"""Fixtures shared by every layer of tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from services.clock import clock
from services.db import normalize_url

#: When set, database tests run on PostgreSQL as well as SQLite (and must not skip).
POSTGRES_URL = os.environ.get("MCSIM_TEST_POSTGRES_URL")


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a test's service keeps its tables: a URL and, on PostgreSQL, a fresh schema."""

    kind: str
    url: str
    schema: str | None


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(params=_backends())
def database_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseTarget]:
    """Yield an empty database on SQLite, and on PostgreSQL when MCSIM_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield DatabaseTarget("sqlite", f"sqlite:///{tmp_path / 'test.sqlite3'}", None)
        return
    assert POSTGRES_URL is not None
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield DatabaseTarget("postgres", POSTGRES_URL, schema)
    engine = create_engine(normalize_url(POSTGRES_URL))
    try:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _real_time() -> Iterator[None]:
    """Put this process's virtual clock back on real time after each test: services served
    in-process share it, and a test that moved it must not leave the next one in its future."""
    yield
    clock.apply(timedelta(0))
