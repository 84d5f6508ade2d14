"""Backends that refuse, hang up, dawdle or talk nonsense: the caller gets the right status."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from tests.integration.load_balancer.backends import EchoBackend, RawBackend, serve_asgi
from tests.integration.load_balancer.conftest import running_balancer
from tests.support.live import free_port
from tests.support.soap import fault_of

SOAP_HEADERS = {"SOAPAction": "nms:rtEvent#PushEvent", "Content-Type": "text/xml"}


def test_a_refused_connection_is_retried_on_another_backend_and_ejects_the_first() -> None:
    alive = EchoBackend("alive", 1)
    doomed = EchoBackend("doomed", 2)
    with ExitStack() as stack:
        alive_url = stack.enter_context(serve_asgi(alive))
        doomed_server = ExitStack()
        doomed_url = doomed_server.enter_context(serve_asgi(doomed))
        # A long interval: the passive ejection is what is tested, not the health check.
        lb = stack.enter_context(running_balancer([alive_url, doomed_url], health_interval=30))
        warm_up = [lb.client.post("/x", content=b"payload").json()["backend"] for _ in range(4)]
        assert sorted(warm_up) == ["alive", "alive", "doomed", "doomed"]

        doomed_server.close()
        answers = [lb.client.post("/x", content=b"payload") for _ in range(6)]

        assert [a.status_code for a in answers] == [200] * 6
        assert {a.json()["backend"] for a in answers} == {"alive"}
        entry = lb.backend(doomed_url)
        assert entry["state"] == "down"
        assert (entry["errors"], entry["retried_elsewhere"]) == (1, 1)
        assert "ConnectError" in entry["last_error"]
        assert alive.count() == 8
        assert doomed.count() == 2


def test_with_every_backend_down_the_caller_gets_503_in_its_format() -> None:
    dead = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    with running_balancer(dead) as lb:
        assert lb.status()["counts"]["down"] == 2
        rest = lb.client.get("/acme/campaign/mcacme/EVTPASSWORD_RESET")
        assert rest.status_code == 503
        assert rest.json()["error"] == "service_unavailable"
        assert "GET /_lb/status" in rest.json()["detail"]

        soap = lb.client.post("/nl/jsp/soaprouter.jsp", content=b"<x/>", headers=SOAP_HEADERS)
        assert soap.status_code == 503
        fault = fault_of(soap.content)
        assert fault["faultcode"] == "SOAP-ENV:Server"
        assert "no execution instance is available" in fault["faultstring"]

        # A SOAPAction header alone makes it a SOAP call, whatever the path.
        other = lb.client.post("/elsewhere", content=b"<x/>", headers=SOAP_HEADERS)
        assert fault_of(other.content)["faultcode"] == "SOAP-ENV:Server"
        assert lb.status()["refused"]["no_backend"] == 3


def test_a_request_the_backend_may_have_seen_is_answered_502_and_never_replayed() -> None:
    echo = EchoBackend("echo", 1)
    with (
        RawBackend("hangup") as raw,
        serve_asgi(echo) as echo_url,
        running_balancer([raw.url, echo_url], health_interval=30) as lb,
    ):
        first = lb.client.post("/nl/jsp/soaprouter.jsp", content=b"<once/>", headers=SOAP_HEADERS)
        second = lb.client.post("/other", content=b"<twice/>")

        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 502]
        failed = first if first.status_code == 502 else second
        # Only the request that went to the hanging-up backend failed, and only there.
        assert len(raw.requests) == 1
        assert echo.count() == 1
        if failed is first:
            fault = fault_of(failed.content)
            assert fault["faultcode"] == "SOAP-ENV:Server"
            assert "failed to answer" in fault["faultstring"]
        else:
            assert failed.json()["error"] == "bad_gateway"
        assert lb.backend(raw.url)["state"] == "down"
        # From now on everything goes to the healthy backend.
        assert all(lb.client.get("/x").status_code == 200 for _ in range(4))
        assert len(raw.requests) == 1


def test_garbage_from_a_backend_is_a_502() -> None:
    with RawBackend("garbage") as raw, running_balancer([raw.url], health_interval=30) as lb:
        # The first check found it broken; put it back to see what a request gets.
        token = {"Authorization": f"Bearer {lb.settings.admin_token}"}
        lb.client.request("DELETE", "/_lb/backends", params={"url": raw.url}, headers=token)
        lb.client.post("/_lb/backends", json={"url": raw.url}, headers=token)
        answer = lb.client.get("/x")
        assert answer.status_code == 502
        assert answer.json()["error"] == "bad_gateway"
        assert "RemoteProtocolError" in answer.json()["detail"]
        assert raw.requests.count(b"GET /x HTTP/1.1") == 1


@pytest.mark.parametrize("soap", [False, True])
def test_a_slow_backend_times_out_with_504(soap: bool) -> None:
    slow = EchoBackend("slow", 1)
    with serve_asgi(slow) as url, running_balancer([url], read_timeout=0.5) as lb:
        headers = SOAP_HEADERS if soap else {}
        answer = lb.client.post("/slow", params={"s": "3"}, content=b"<x/>", headers=headers)
        assert answer.status_code == 504
        if soap:
            fault = fault_of(answer.content)
            assert fault["faultcode"] == "SOAP-ENV:Server"
            assert "did not answer in time" in fault["faultstring"]
        else:
            assert answer.json()["error"] == "gateway_timeout"
        entry = lb.backend(url)
        assert (entry["timeouts"], entry["errors"]) == (1, 1)
        assert slow.count() == 1
