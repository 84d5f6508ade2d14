"""F9: every service answers only to its own host names (DNS rebinding defence)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from control_instance.app import create_app as create_control
from control_instance.settings import ControlSettings
from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from load_balancer.app import create_app as create_balancer
from load_balancer.settings import BalancerSettings
from midsourcing.app import create_app as create_mid
from midsourcing.settings import MidSettings
from tests.integration.midsourcing.support import append_envelope, email, part, soap
from tests.support.asgi import serve
from tests.support.live import live_server
from tests.support.soap import fault_of, push_event_envelope

#: The review's rebinding: a page on this name, re-pointed at 127.0.0.1, reads the mailbox.
REBOUND = "rebind.attacker.example:38090"
REBOUND_PAGE = {"host": REBOUND, "origin": f"http://{REBOUND}", "sec-fetch-site": "same-origin"}

Factory = Callable[[Path], FastAPI]
SERVICES: dict[str, Factory] = {
    "execution": lambda data: create_execution(ExecutionSettings(data_dir=data, workers=0)),
    "control": lambda data: create_control(ControlSettings(data_dir=data, execution_urls=[])),
    "midsourcing": lambda data: create_mid(MidSettings(data_dir=data)),
    "load-balancer": lambda data: create_balancer(BalancerSettings(backends=[])),
}


async def test_the_mailbox_api_is_refused_to_a_rebound_name(tmp_path: Path) -> None:
    async with serve(create_mid(MidSettings(data_dir=tmp_path))) as mid:
        sent = await soap(mid, append_envelope(part(email("bob@example.com"))))
        assert sent.status_code == 200, sent.text
        refused = await mid.get("/api/v1/messages?limit=1", headers={"host": REBOUND})
        assert refused.status_code == 421
        assert refused.json()["error"] == "misdirected_request"
        assert "bob@example.com" not in refused.text
        assert "MCSIM_MID_ALLOWED_HOSTS" in refused.json()["detail"]
        # The same request by a name of this machine is answered.
        for host in ("127.0.0.1:38090", "localhost:8090", "[::1]:8090", "127.0.0.2"):
            answer = await mid.get("/api/v1/messages?limit=1", headers={"host": host})
            assert answer.status_code == 200, host
            assert answer.json()["total"] == 1


async def test_a_csrf_protected_change_is_refused_to_a_rebound_name(tmp_path: Path) -> None:
    async with serve(create_mid(MidSettings(data_dir=tmp_path))) as mid:
        await soap(mid, append_envelope(part(email("bob@example.com"))))
        message_id = (await mid.get("/api/v1/messages")).json()["messages"][0]["id"]
        page = await mid.get("/", headers={"host": REBOUND, "accept": "text/html"})
        assert page.status_code == 421
        assert "mcsim_mailbox_csrf" not in page.cookies
        # With a token taken from this site: the rebound page still cannot use it.
        token = (await mid.get("/", headers={"accept": "text/html"})).cookies["mcsim_mailbox_csrf"]
        deleted = await mid.post(
            f"/messages/{message_id}/delete",
            data={"csrf_token": token},
            headers=REBOUND_PAGE,  # the client sends the token's cookie too
        )
        assert deleted.status_code == 421
        assert (await mid.get("/api/v1/messages")).json()["total"] == 1


@pytest.mark.parametrize("service", list(SERVICES))
async def test_every_service_refuses_a_rebound_name(tmp_path: Path, service: str) -> None:
    async with serve(SERVICES[service](tmp_path)) as client:
        assert (await client.get("/health")).status_code == 200
        refused = await client.get("/health", headers={"host": REBOUND})
        assert refused.status_code == 421
        assert refused.json()["error"] == "misdirected_request"


async def test_the_soap_router_answers_a_rebound_name_with_a_fault(tmp_path: Path) -> None:
    async with serve(create_execution(ExecutionSettings(data_dir=tmp_path, workers=0))) as client:
        answer = await client.post(
            "/nl/jsp/soaprouter.jsp",
            content=push_event_envelope().encode(),
            headers={"content-type": "text/xml", "host": REBOUND},
        )
        assert answer.status_code == 421
        fault = fault_of(answer.content)
        assert fault["faultcode"] == "SOAP-ENV:Client"
        assert REBOUND in fault["faultstring"]


async def test_a_rebound_name_forwarded_by_the_load_balancer_is_refused(tmp_path: Path) -> None:
    # The balancer sends the backend's own Host and the caller's in X-Forwarded-Host; the
    # instance is reached at an address, as over a socket.
    app = create_execution(ExecutionSettings(data_dir=tmp_path, workers=0))
    async with serve(app, base_url="http://127.0.0.1:8081") as client:
        headers = {"host": "127.0.0.1:8081"}
        assert (await client.get("/health", headers=headers)).status_code == 200
        forwarded = {**headers, "x-forwarded-host": REBOUND}
        assert (await client.get("/health", headers=forwarded)).status_code == 421
        through_lb = {**headers, "x-forwarded-host": "localhost:8080"}
        assert (await client.get("/health", headers=through_lb)).status_code == 200


@pytest.mark.parametrize(
    ("settings", "host", "status"),
    [
        ({"public_url": "http://mcsim.example.org:9000"}, "mcsim.example.org", 200),
        ({"public_url": "http://mcsim.example.org:9000"}, "MCSIM.example.org.:443", 200),
        ({"host": "10.1.2.3"}, "10.1.2.3:8090", 200),
        ({"host": "0.0.0.0"}, "0.0.0.0:8090", 421),
        ({"allowed_hosts": ["midsourcing", "mail.internal:8090"]}, "midsourcing:8090", 200),
        ({"allowed_hosts": ["midsourcing", "mail.internal:8090"]}, "mail.internal", 200),
        ({"allowed_hosts": ["midsourcing"]}, REBOUND, 421),
        ({"allowed_hosts": ["*"]}, REBOUND, 200),
    ],
)
async def test_configured_names_are_served(
    tmp_path: Path, settings: dict[str, Any], host: str, status: int
) -> None:
    async with serve(create_mid(MidSettings(data_dir=tmp_path, **settings))) as mid:
        answer = await mid.get("/health", headers={"host": host})
        assert answer.status_code == status


async def test_the_allowed_hosts_setting_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MCSIM_EXEC_ALLOWED_HOSTS", '["exec1", "exec1.internal"]')
    assert ExecutionSettings().allowed_hosts == ["exec1", "exec1.internal"]


def test_a_live_server_refuses_the_rebound_name_and_serves_its_address(tmp_path: Path) -> None:
    # Over a real socket the server address is 127.0.0.1: the review's request, byte for byte.
    app = create_mid(MidSettings(data_dir=tmp_path))
    with live_server(app) as url, httpx.Client(base_url=url, trust_env=False) as client:
        refused = client.get("/api/v1/messages?limit=1", headers={"host": REBOUND})
        served = client.get("/api/v1/messages?limit=1")
    assert refused.status_code == 421
    assert refused.json()["error"] == "misdirected_request"
    assert served.status_code == 200
