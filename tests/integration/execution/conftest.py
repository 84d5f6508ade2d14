"""An execution instance served in-process, with helpers to call its SOAP router."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from execution_instance.app import create_app
from execution_instance.intake.channels import EventStatus
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from services.db import Database
from tests.conftest import DatabaseTarget
from tests.support.asgi import serve

EVENT_TYPES = ["PASSWORD_RESET", "ORDER_CONFIRMATION"]
SOAP_HEADERS = {"content-type": "text/xml; charset=utf-8"}

InstanceFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def db(database_target: DatabaseTarget) -> Iterator[Database]:
    """Yield a migrated execution-instance database (SQLite, and PostgreSQL when configured)."""
    database = Database(database_target.url, schema=database_target.schema)
    database.upgrade("execution_instance:migrations")
    yield database
    database.dispose()


def add_event(db: Database, **changes: Any) -> int:
    """Store one PASSWORD_RESET e-mail event (pending unless ``changes`` say otherwise) straight
    into the database; return its pk."""
    now = datetime.now(UTC)
    row: dict[str, Any] = {
        "queue": 0,
        "event_type": "PASSWORD_RESET",
        "status": int(EventStatus.PENDING),
        "wished_channel": 0,
        "email": "a@example.com",
        "email_format": 0,
        "document": "<rtEvent/>",
        "source": "soap",
        "created_at": now,
        "next_attempt_at": now,
        "error_count": 0,
        **changes,
    }
    with db.transaction(write=True) as session:
        return int(session.execute(insert(Event).returning(Event.id), [row]).scalar_one())


@pytest.fixture
def make_instance(tmp_path: Path) -> InstanceFactory:
    """Return a factory: ``async with make_instance(instance_id=2, …) as client``."""

    def factory(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        # Intake tests look at events as they were stored: no workers unless a test asks.
        options: dict[str, Any] = {"data_dir": tmp_path, "event_types": EVENT_TYPES, "workers": 0}
        options.update(overrides)
        return serve(create_app(ExecutionSettings(**options)))

    return factory


@pytest.fixture
async def client(make_instance: InstanceFactory) -> AsyncIterator[httpx.AsyncClient]:
    """Yield a client of execution instance 1 with the demo event types."""
    async with make_instance() as instance:
        yield instance


async def soap(
    client: httpx.AsyncClient, envelope: str, *, action: str | None = None, **headers: str
) -> httpx.Response:
    """POST an envelope to the SOAP router."""
    sent = dict(SOAP_HEADERS)
    if action is not None:
        sent["SOAPAction"] = action
    sent.update(headers)
    return await client.post("/nl/jsp/soaprouter.jsp", content=envelope.encode(), headers=sent)


def stored_events(client: httpx.AsyncClient) -> list[Event]:
    """Return every event stored by the instance behind ``client``."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    db = transport.app.state.db  # type: ignore[attr-defined]
    with db.transaction() as session:
        return list(session.execute(select(Event).order_by(Event.id)).scalars())
