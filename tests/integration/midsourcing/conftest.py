"""A mid-sourcing server served in-process, with fast retries, on SQLite (and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from midsourcing.app import create_app
from midsourcing.settings import MidSettings
from tests.conftest import DatabaseTarget
from tests.support.asgi import serve

#: Settings that keep tests fast: short polls and backoffs.
FAST: dict[str, Any] = {
    "poll_seconds": 0.02,
    "retry_seconds": 0.02,
    "retry_max_seconds": 0.1,
    "webhook_retry_seconds": 0.02,
    "lease_seconds": 5.0,
    "housekeeping_seconds": 3600.0,
}

MidFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def mid_settings(data_dir: Path, **overrides: Any) -> MidSettings:
    """Return fast settings with ``overrides``."""
    return MidSettings(**{"data_dir": data_dir, **FAST, **overrides})


@pytest.fixture
def make_mid(tmp_path: Path) -> MidFactory:
    """Return a factory: ``async with make_mid(smtp_host=…) as client`` (SQLite in tmp)."""

    def factory(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        http_client = overrides.pop("http_client", None)
        return serve(create_app(mid_settings(tmp_path, **overrides), http_client=http_client))

    return factory


@pytest.fixture
def make_mid_on(tmp_path: Path, database_target: DatabaseTarget) -> MidFactory:
    """Return a factory of servers on ``database_target`` (SQLite, and PostgreSQL when set)."""

    def factory(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        options = {"database_url": database_target.url, "database_schema": database_target.schema}
        return serve(create_app(mid_settings(tmp_path, **options, **overrides)))

    return factory


@pytest.fixture
async def mid(make_mid: MidFactory) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of a mid-sourcing server in capture mode."""
    async with make_mid() as client:
        yield client
