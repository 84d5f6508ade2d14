"""A control instance wired to in-process execution instances and a fake mid-sourcing server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from control_instance.app import create_app as create_control
from control_instance.settings import ControlSettings
from execution_instance.app import create_app as create_execution
from execution_instance.intake.channels import Channel, Queue
from execution_instance.settings import ExecutionSettings
from services.dev_credentials import CONTROL_PLANE
from tests.support.asgi import serve
from tests.support.fake_mid import FakeMid
from tests.support.soap import logon_envelope

MID_URL = "http://mid.test"
#: An event nobody pushed: an accepted bearer token reads 404, a refused one 401.
UNKNOWN_EVENT = f"/acme/campaign/mcacme/EVTPASSWORD_RESET/{(1 << 56) | 999}"


async def logon_status(client: httpx.AsyncClient, login: str, password: str) -> int:
    """Return the HTTP status of an xtk:session#Logon on an instance (200, or 500: a fault)."""
    answer = await client.post(
        "/nl/jsp/soaprouter.jsp",
        content=logon_envelope(login, password),
        headers={"content-type": "text/xml", "SOAPAction": "xtk:session#Logon"},
    )
    return answer.status_code


class Switchable(httpx.AsyncBaseTransport):
    """A transport that can be made unreachable (connection refused) and back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.calls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Refuse the connection when down, else pass the request on."""
        self.calls.append(f"{request.method} {request.url.path}")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@dataclass
class Cell:
    """The control instance under test and what it talks to."""

    control: httpx.AsyncClient
    instances: dict[str, httpx.AsyncClient]  # by URL
    switches: dict[str, Switchable]
    mid: FakeMid
    apps: dict[str, FastAPI]
    control_app: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)

    async def login(self, login: str = "admin", password: str = "admin") -> dict[str, str]:
        """Log in and return the Authorization header."""
        answer = await self.control.post(
            "/api/v1/auth/login", json={"login": login, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return {"authorization": f"Bearer {answer.json()['access_token']}"}

    async def as_role(self, role: str) -> dict[str, str]:
        """Return the headers of an operator with ``role`` (created on first use)."""
        if role not in self.tokens:
            admin = await self.login()
            login = f"{role}-user"
            answer = await self.control.post(
                "/api/v1/operators",
                json={"login": login, "role": role, "password": "password-" + role},
                headers=admin,
            )
            assert answer.status_code == 201, answer.text
            self.tokens[role] = (await self.login(login, "password-" + role))["authorization"]
        return {"authorization": self.tokens[role]}

    def route(self, url: str, event_type: str, channel: int) -> Any:
        """Return the template an instance routes real-time events of this type and channel to."""
        state = self.apps[url].state.execution
        state.templates.refresh()
        return state.templates.route(event_type, Channel(channel), Queue.REALTIME)

    async def mc(self, url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call an execution instance's /_mc/ API directly."""
        return await self.instances[url].request(
            method, "/_mc" + path, auth=CONTROL_PLANE, **kwargs
        )


def exec_url(number: int) -> str:
    """Return the URL of in-process execution instance ``number``."""
    return f"http://exec-{number}.test"


@asynccontextmanager
async def control_cell(
    data: Path,
    *,
    instances: int = 2,
    demo: bool = False,
    instance_ids: list[int] | None = None,
    url_of: Callable[[int], str] = exec_url,
    **settings: Any,
) -> AsyncIterator[Cell]:
    """Run ``instances`` execution instances (no workers) and a control instance in-process.

    ``instance_ids`` configures the instances' ids (each then gets a data directory of its own,
    so that equal ids do not share a database); by default instance k has id k.
    """
    mid = FakeMid()
    ids = instance_ids or list(range(1, instances + 1))
    async with AsyncExitStack() as stack:
        apps = {
            url_of(k): create_execution(
                ExecutionSettings(
                    instance_id=ids[k - 1],
                    data_dir=data / f"exec-{k}" if instance_ids else data,
                    workers=0,
                )
            )
            for k in range(1, len(ids) + 1)
        }
        clients = {url: await stack.enter_async_context(serve(app)) for url, app in apps.items()}
        switches = {url: Switchable(httpx.ASGITransport(app=app)) for url, app in apps.items()}
        mounts: dict[str, httpx.AsyncBaseTransport] = {**switches, MID_URL: mid.transport()}
        http = await stack.enter_async_context(httpx.AsyncClient(mounts=mounts))
        control_settings = ControlSettings(
            data_dir=data,
            demo=demo,
            execution_urls=list(apps),
            midsourcing_url=MID_URL,
            instance_timeout_seconds=5,
            **settings,
        )
        control_app = create_control(control_settings, http_client=http)
        control = await stack.enter_async_context(serve(control_app))
        yield Cell(
            control=control,
            instances=clients,
            switches=switches,
            mid=mid,
            apps=apps,
            control_app=control_app,
        )


@pytest.fixture
async def cell(tmp_path: Path) -> AsyncIterator[Cell]:
    """A control instance with two execution instances, no demo."""
    async with control_cell(tmp_path) as running:
        yield running
