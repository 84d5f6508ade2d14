"""The balancer's HTTP/1.1 server protocol on a raw socket: pipelining, 100-continue, closing."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.integration.load_balancer.backends import EchoBackend, serve_asgi
from tests.integration.load_balancer.conftest import Balancer, running_balancer


@pytest.fixture
def lb() -> Iterator[Balancer]:
    # The raw requests below name "Host: x", which the balancer must be told it answers to.
    with (
        serve_asgi(EchoBackend("one", 1)) as url,
        running_balancer([url], allowed_hosts=["x"]) as balancer,
    ):
        yield balancer


def connect(lb: Balancer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", lb.settings.port), timeout=5)
    return sock


def read_response(
    sock: socket.socket, buffer: bytearray
) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """Read one response with a Content-Length body from ``sock``."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed, got {bytes(buffer)!r}")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
    length = int(headers.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    buffer[:] = rest[length:]
    return lines[0], headers, rest[:length]


def test_pipelined_requests_are_answered_in_order(lb: Balancer) -> None:
    with connect(lb) as sock:
        sock.sendall(
            b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        buffer = bytearray()
        paths = []
        for _ in range(3):
            status, _headers, body = read_response(sock, buffer)
            assert status == b"HTTP/1.1 200 OK"
            paths.append(json.loads(body)["path"])
    assert paths == ["/first", "/second", "/third"]


def test_expect_100_continue_gets_its_interim_answer(lb: Balancer) -> None:
    with connect(lb) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"body")
        buffer = bytearray(interim[len(b"HTTP/1.1 100 Continue\r\n\r\n") :])
        status, _headers, body = read_response(sock, buffer)
    assert status == b"HTTP/1.1 200 OK"
    assert json.loads(body)["body_length"] == 4
    # The Expect header is the balancer's business, not the backend's.
    assert "expect" not in {name for name, _ in json.loads(body)["headers"]}


def test_http_1_0_and_connection_close_end_the_connection(lb: Balancer) -> None:
    for request in (
        b"GET /old HTTP/1.0\r\n\r\n",
        b"GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ):
        with connect(lb) as sock:
            sock.sendall(request)
            status, headers, _body = read_response(sock, bytearray())
            assert status == b"HTTP/1.1 200 OK"
            assert headers[b"connection"] == b"close"
            assert sock.recv(10) == b""


def test_a_malformed_request_gets_400_and_the_connection_is_closed(lb: Balancer) -> None:
    with connect(lb) as sock:
        sock.sendall(b"NOT A REQUEST\r\n\r\n")
        status, _headers, body = read_response(sock, bytearray())
        assert status == b"HTTP/1.1 400 Bad Request"
        assert body == b"invalid HTTP request"
        assert sock.recv(10) == b""


def test_an_own_route_and_a_chunked_answer_on_one_keep_alive_connection(lb: Balancer) -> None:
    with connect(lb) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        buffer = bytearray()
        status, _headers, body = read_response(sock, buffer)
        assert status == b"HTTP/1.1 200 OK"
        assert json.loads(body)["service"] == "load_balancer"
        # /big streams without Content-Length: the balancer answers chunked.
        sock.sendall(b"GET /big?n=70000 HTTP/1.1\r\nHost: x\r\n\r\n")
        data = bytes(buffer)
        while not data.endswith(b"0\r\n\r\n"):
            data += sock.recv(65536)
    head, _, chunked = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    body = b""
    while True:
        size_line, _, chunked = chunked.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, chunked = body + chunked[:size], chunked[size + 2 :]
    assert len(body) == 70000
