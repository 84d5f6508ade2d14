"""The Host allow-list (F9): loopback, the service's own names, and nothing a page can re-point."""

from __future__ import annotations

import json

from hypothesis import assume, given
from hypothesis import strategies as st

from services.hosts import HostAllowList, host_name
from services.settings import ServiceSettings

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
NAME = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
PORT = st.one_of(st.just(""), st.integers(1, 65535).map(lambda port: f":{port}"))
LOOPBACK_V4 = st.tuples(*[st.integers(0, 255)] * 3).map(lambda t: "127." + ".".join(map(str, t)))


def scope(host: str, *, server: str | None = "127.0.0.1", **headers: str) -> dict[str, object]:
    """A minimal ASGI scope with a Host header."""
    raw = [(b"host", host.encode("latin-1"))]
    raw += [(name.encode(), value.encode()) for name, value in headers.items()]
    return {"headers": raw, "server": (server, 8090) if server else None, "path": "/"}


@given(name=NAME, port=PORT)
def test_a_name_that_is_not_configured_is_refused_whatever_its_port(name: str, port: str) -> None:
    assume(name not in ("localhost", "mcsim.internal") and not name.startswith("127."))
    hosts = HostAllowList(["mcsim.internal"])
    refused = hosts.refusal(scope(name + port))
    assert refused is not None
    assert refused.status_code == 421
    assert json.loads(bytes(refused.body))["error"] == "misdirected_request"


@given(host=st.one_of(LOOPBACK_V4, st.just("[::1]"), st.just("localhost")), port=PORT)
def test_loopback_is_served_with_any_port(host: str, port: str) -> None:
    assert HostAllowList().refusal(scope(host + port, server=None)) is None


@given(name=NAME, port=PORT)
def test_a_configured_name_is_served_in_any_case_and_port(name: str, port: str) -> None:
    hosts = HostAllowList([name.upper() + ":1234"])
    assert hosts.refusal(scope(name + port, server=None)) is None
    assert hosts.refusal(scope(name.upper() + "." + port, server=None)) is None


def test_the_address_the_connection_came_in_on_is_served() -> None:
    hosts = HostAllowList()
    assert hosts.refusal(scope("172.18.0.3:8081", server="172.18.0.3")) is None
    assert hosts.refusal(scope("[fd00::3]:8081", server="fd00::3")) is None
    assert hosts.refusal(scope("172.18.0.4:8081", server="172.18.0.3")) is not None


def test_every_forwarded_host_must_be_served() -> None:
    hosts = HostAllowList(["mcsim.internal", "exec1"])
    assert hosts.refusal(scope("exec1", **{"x-forwarded-host": "localhost"})) is None
    assert hosts.refusal(scope("exec1", **{"x-forwarded-host": "evil.example"})) is not None
    forwarded = {"x-forwarded-host": "mcsim.internal, evil.example"}
    assert hosts.refusal(scope("localhost", **forwarded)) is not None
    # The balancer reached by its LAN address: an IP literal is never a re-pointed name.
    lan = {"x-forwarded-host": "192.168.1.5:8080"}
    assert hosts.refusal(scope("127.0.0.1:8081", **lan)) is None


def test_a_request_without_host_is_served() -> None:
    assert HostAllowList().refusal({"headers": [], "server": None, "path": "/"}) is None


def test_the_remembered_verdicts_are_bounded_and_stay_right() -> None:
    hosts = HostAllowList()
    for k in range(3000):
        assert not hosts.allows(b"n%d.example" % k)
    assert len(hosts._verdicts) <= 1024
    assert hosts.allows(b"127.0.0.1:1") and not hosts.allows(b"n2999.example")


def test_the_settings_give_the_public_url_host_and_the_bound_host() -> None:
    settings = ServiceSettings(host="10.0.0.5", public_url="http://mcsim.example.org:8080/")
    hosts = HostAllowList.for_settings(settings)
    assert hosts.names == {"10.0.0.5", "mcsim.example.org"}
    assert not hosts.allow_any
    every = HostAllowList.for_settings(ServiceSettings(host="0.0.0.0", allowed_hosts=["*"]))
    assert every.allow_any and "0.0.0.0" not in every.names
    assert every.refusal(scope("evil.example")) is None


def test_host_names_lose_their_port_brackets_case_and_final_dot() -> None:
    assert host_name("Example.ORG.:8080") == "example.org"
    assert host_name("[::1]:80") == "::1"
    assert host_name("::1") == "::1"
    assert host_name("exec1") == "exec1"


def test_in_process_calls_are_served_by_their_url_host_and_forward_any_host() -> None:
    # Under httpx's ASGITransport the server address is the URL's host, never an IP on a socket.
    hosts = HostAllowList()
    forwarded = {"x-forwarded-host": "testserver"}
    assert hosts.refusal(scope("exec-1", server="exec-1", **forwarded)) is None
    assert hosts.refusal(scope("evil.example", server="exec-1")) is not None
