"""The data path on real loopback servers: spread, headers, streaming, limits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.load_balancer.backends import EchoBackend, serve_asgi
from tests.integration.load_balancer.conftest import running_balancer, wait_for
from tests.support.soap import fault_of


@pytest.fixture
def two_backends() -> Iterator[tuple[EchoBackend, EchoBackend, str, str]]:
    one, two = EchoBackend("one", 1), EchoBackend("two", 2)
    with serve_asgi(one) as url_one, serve_asgi(two) as url_two:
        yield one, two, url_one, url_two


def test_round_robin_spreads_requests_evenly_and_the_status_counts_them(
    two_backends: tuple[EchoBackend, EchoBackend, str, str],
) -> None:
    one, two, url_one, url_two = two_backends
    with running_balancer([url_one, url_two]) as lb:
        answers = [lb.client.post("/nl/jsp/soaprouter.jsp", content=b"<x/>") for _ in range(20)]

        assert all(a.status_code == 200 for a in answers)
        order = [a.json()["backend"] for a in answers]
        assert order.count("one") == order.count("two") == 10
        # Strict alternation: round-robin, not random.
        assert all(order[i] != order[i + 1] for i in range(len(order) - 1))
        status = lb.status()
        assert status["counts"] == {"total": 2, "up": 2, "down": 0, "unknown": 0}
        assert {b["url"]: b["requests"] for b in status["backends"]} == {url_one: 10, url_two: 10}
        assert {b["instance_id"] for b in status["backends"]} == {1, 2}
        assert all(b["latency_ms"]["p99"] is not None for b in status["backends"])
        assert one.count() == two.count() == 10


def test_forwarded_headers_name_the_real_caller_and_hop_by_hop_headers_stay_behind(
    two_backends: tuple[EchoBackend, EchoBackend, str, str],
) -> None:
    _one, _two, url_one, _url_two = two_backends
    with running_balancer([url_one]) as lb:
        answer = lb.client.get(
            "/some/p%2Fath",
            params={"a": "1", "b": "x y"},
            headers={
                "X-Forwarded-For": "203.0.113.9",
                "Connection": "keep-alive, X-Secret-Hop",
                "X-Secret-Hop": "must not pass",
                "Proxy-Authorization": "Basic c2VjcmV0",
                "TE": "trailers",
                "X-Custom": "kept",
            },
        )
    assert answer.status_code == 200
    seen = answer.json()
    headers: dict[str, list[str]] = {}
    for name, value in seen["headers"]:
        headers.setdefault(name, []).append(value)
    assert headers["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == [lb.url.removeprefix("http://")]
    assert headers["host"] == [url_one.removeprefix("http://")]
    assert headers["x-custom"] == ["kept"]
    for hop in ("connection", "x-secret-hop", "proxy-authorization", "te"):
        assert hop not in headers, hop
    # The request target is forwarded byte for byte (an encoded slash stays encoded).
    assert seen["raw_path"] == "/some/p%2Fath"
    assert seen["query"] == "a=1&b=x+y"
    # Every request carries an id, echoed back to the caller.
    assert headers["x-request-id"] == [answer.headers["x-request-id"]]
    assert answer.headers["set-cookie"] == "backend=one"


def test_bodies_stream_both_ways_unchanged(
    two_backends: tuple[EchoBackend, EchoBackend, str, str],
) -> None:
    _one, _two, url_one, _url_two = two_backends
    payload = bytes(range(256)) * 4096 * 3  # 3 MiB, sent chunked

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 100_000):
            yield payload[start : start + 100_000]

    with running_balancer([url_one]) as lb:
        upload = lb.client.post("/upload", content=chunks())
        assert upload.status_code == 200
        assert upload.json()["body_length"] == len(payload)
        assert upload.json()["body_sha256"] == hashlib.sha256(payload).hexdigest()

        size = 5 * 1024 * 1024 + 7
        with lb.client.stream("GET", "/big", params={"n": str(size)}) as download:
            assert download.status_code == 200
            received = b"".join(download.iter_raw())
        assert len(received) == size
        pattern = bytes(range(256)) * 256
        assert received == (pattern * (size // len(pattern) + 1))[:size]

        head = lb.client.head("/anything")
        assert head.status_code == 200
        assert head.content == b""
        # The connection is still usable after a HEAD.
        assert lb.client.get("/after-head").json()["path"] == "/after-head"


def test_bodies_above_the_limit_get_413_in_the_callers_format(
    two_backends: tuple[EchoBackend, EchoBackend, str, str],
) -> None:
    one, _two, url_one, _url_two = two_backends
    with running_balancer([url_one], max_body_bytes=1000) as lb:
        declared = lb.client.post("/x", content=b"a" * 1001)
        assert declared.status_code == 413
        assert declared.json()["error"] == "payload_too_large"

        soap = lb.client.post(
            "/nl/jsp/soaprouter.jsp",
            content=b"<a>" + b"a" * 2000 + b"</a>",
            headers={"SOAPAction": "nms:rtEvent#PushEvent"},
        )
        assert soap.status_code == 413
        assert soap.headers["content-type"].startswith("text/xml")
        assert fault_of(soap.content)["faultcode"] == "SOAP-ENV:Client"

        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"b" * 300

        streamed = lb.client.post("/x", content=chunks())
        assert streamed.status_code == 413

        at_limit = lb.client.post("/x", content=b"a" * 1000)
        assert at_limit.status_code == 200
        assert lb.status()["refused"]["too_large"] == 3
    # Only the request within the limit reached the backend whole; a streamed body cut at the
    # limit ends with the connection, which the backend sees as a disconnect.
    assert [hit["body_length"] for hit in one.hits] == [1000]


def test_a_backends_own_errors_pass_through_untouched(
    two_backends: tuple[EchoBackend, EchoBackend, str, str],
) -> None:
    _one, _two, url_one, _url_two = two_backends
    with running_balancer([url_one]) as lb:
        answer = lb.client.get("/x", params={"status": "503"})
        assert answer.status_code == 503
        assert answer.json()["backend"] == "one"
        entry = lb.backend(url_one)
        assert entry["responses_5xx"] == 1
        # A 5xx answer is the backend speaking, not failing: it stays in rotation.
        assert entry["state"] == "up"
        assert entry["errors"] == 0


def test_the_health_check_takes_a_backend_out_and_brings_it_back(
    two_backends: tuple[EchoBackend, EchoBackend, str, str],
) -> None:
    one, two, url_one, url_two = two_backends
    with running_balancer([url_one, url_two]) as lb:
        one.healthy = False
        wait_for(lambda: lb.backend(url_one)["state"] == "down")
        before = one.count()
        answers = [lb.client.get("/x").json()["backend"] for _ in range(6)]
        assert answers == ["two"] * 6
        assert one.count() == before
        assert "503" in (lb.backend(url_one)["last_error"] or "")

        one.healthy = True
        wait_for(lambda: lb.backend(url_one)["state"] == "up")
        answers = [lb.client.get("/x").json()["backend"] for _ in range(6)]
        assert sorted(answers) == ["one"] * 3 + ["two"] * 3
    assert two.count() >= 9


def test_metrics_are_prometheus_text_with_per_backend_series(
    two_backends: tuple[EchoBackend, EchoBackend, str, str],
) -> None:
    _one, _two, url_one, url_two = two_backends
    with running_balancer([url_one, url_two]) as lb:
        for _ in range(4):
            lb.client.get("/x")
        text = lb.client.get("/metrics")
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = text.text.splitlines()
    assert "# TYPE mcsim_lb_backend_requests_total counter" in lines
    assert f'mcsim_lb_backend_requests_total{{backend="{url_one}",instance_id="1"}} 2' in lines
    assert f'mcsim_lb_backend_up{{backend="{url_two}",instance_id="2"}} 1' in lines
    buckets = [
        line for line in lines if line.startswith("mcsim_lb_backend_response_seconds_bucket")
    ]
    inf = [b for b in buckets if url_one in b and 'le="+Inf"' in b]
    assert inf and inf[0].endswith(" 2")
    assert "mcsim_lb_requests_total 4" in lines


def test_the_balancers_own_health_is_the_shared_one() -> None:
    with running_balancer([]) as lb:
        health = lb.client.get("/health").json()
        assert (health["service"], health["database"], health["status"]) == (
            "load_balancer",
            "none",
            "ok",
        )
        empty = lb.client.get("/nl/jsp/ping.jsp")
        assert empty.status_code == 503
        assert empty.json()["error"] == "service_unavailable"


def test_a_client_that_streams_slowly_is_still_forwarded_whole() -> None:
    backend = EchoBackend("one", 1)
    with serve_asgi(backend) as url, running_balancer([url]) as lb:
        sent = b"".join(bytes([i]) * 1000 for i in range(50))

        def trickle() -> Iterator[bytes]:
            for i in range(50):
                yield bytes([i]) * 1000

        answer = httpx.post(lb.url + "/slow-upload", content=trickle(), trust_env=False)
    assert answer.json()["body_sha256"] == hashlib.sha256(sent).hexdigest()
