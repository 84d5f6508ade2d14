"""An execution instance served in-process, with helpers to call its SOAP router."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from execution_instance.app import create_app
from execution_instance.intake.channels import EventStatus
from execution_instance.intake.service import split_pl_id
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from services.db import Database
from services.dev_credentials import CONTROL_PLANE
from tests.conftest import DatabaseTarget
from tests.support.asgi import serve
from tests.support.fake_mid import FakeMid
from tests.support.soap import outputs_of, push_event_envelope

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


# -- an instance with processing workers and a fake mid-sourcing server ------------------------
ADMIN = CONTROL_PLANE
EMAIL = {
    "from_name": "Acme",
    "from_address": "noreply@acme.test",
    "reply_to": "help@acme.test",
    "subject": "Reset your password, <%= rtEvent.ctx.firstName %>",
    "html": "<p>Hello <%= rtEvent.ctx.firstName %></p>",
    "text": "Hello <%= rtEvent.ctx.firstName %>",
}


class Instance:
    """An execution instance with workers and a fake mid-sourcing server."""

    def __init__(self, client: httpx.AsyncClient, mid: FakeMid, app: Any) -> None:
        self.client, self.mid, self.app = client, mid, app

    async def publish(self, name: str = "reset", **body: Any) -> httpx.Response:
        payload = {"event_type": "PASSWORD_RESET", "channel": 0, "version": 1, "content": EMAIL}
        payload.update(body)
        answer = await self.client.put(f"/_mc/templates/{name}", json=payload, auth=ADMIN)
        assert answer.status_code == 200, answer.text
        return answer

    async def push(self, event: str | None = None, service: str = "nms:rtEvent") -> int:
        answer = await self.client.post(
            "/nl/jsp/soaprouter.jsp",
            content=push_event_envelope(event, service=service).encode(),
            headers={"content-type": "text/xml"},
        )
        assert answer.status_code == 200, answer.text
        return split_pl_id(int(outputs_of(answer.content, "plId")[0]))[1]

    def event(self, pk: int) -> Event:
        with self.app.state.db.transaction() as session:
            row = session.get(Event, pk)
        assert row is not None
        return row

    async def wait_for(
        self, pk: int, predicate: Callable[[Event], bool], within: float = 10
    ) -> Event:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            row = self.event(pk)
            if predicate(row):
                return row
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"event {pk} stayed {EventStatus(row.status).name}: {row.error_text}"
                )
            await asyncio.sleep(0.02)

    async def wait_status(self, pk: int, status: EventStatus, within: float = 10) -> Event:
        return await self.wait_for(pk, lambda e: e.status == status, within)


@pytest.fixture
def make(tmp_path: Path) -> Callable[..., Any]:
    """Return a factory of running instances (``async with make(**settings) as instance``)."""

    @asynccontextmanager
    async def factory(mid: FakeMid | None = None, **overrides: Any) -> AsyncIterator[Instance]:
        mid = mid or FakeMid()
        options: dict[str, Any] = {
            "data_dir": tmp_path,
            "event_types": ["PASSWORD_RESET", "ORDER_CONFIRMATION"],
            "midsourcing_url": "http://mid",
            "workers": 1,
            "idle_poll_seconds": 0.05,
            "status_sync_seconds": 0.05,
            "handoff_retry_base_seconds": 0.05,
            "handoff_retry_max_seconds": 0.2,
        }
        options.update(overrides)
        http = httpx.AsyncClient(transport=mid.transport())
        app = create_app(ExecutionSettings(**options), http_client=http)
        async with serve(app) as client:
            yield Instance(client, mid, app)
        await http.aclose()

    return factory
