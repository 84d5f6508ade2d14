"""The balancer's httpx transport against a scripted raw socket server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from services.pool_transport import BufferedBody, PoolTransport
from tests.support.live import free_port

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class ScriptedServer:
    """Accept connections; answer each request with ANSWER; close one connection on demand."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.requests = 0
        self.silent = False
        self.threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        data = b""
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    _, _, data = data.partition(b"\r\n\r\n")
                    self.requests += 1
                    if not self.silent:
                        conn.sendall(ANSWER)
        except OSError:
            return

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    yield scripted
    scripted.close()


def request(port: int, target: bytes = b"/x") -> httpx.Request:
    return httpx.Request(
        "GET",
        f"http://127.0.0.1:{port}",
        headers=[(b"host", b"backend")],
        stream=BufferedBody(b""),
        extensions={"target": target},
    )


async def fetch(transport: PoolTransport, port: int) -> bytes:
    response = await transport.handle_async_request(request(port))
    assert isinstance(response.stream, httpx.AsyncByteStream)
    body = b"".join([chunk async for chunk in response.stream])
    await response.stream.aclose()
    return body


async def test_connections_are_kept_alive_and_reused(server: ScriptedServer) -> None:
    transport = PoolTransport()
    for _ in range(5):
        assert await fetch(transport, server.port) == b"ok"
    assert (server.requests, len(server.accepted)) == (5, 1)
    await transport.aclose()


async def test_a_connection_closed_by_the_backend_is_never_reused_even_before_the_loop_knows(
    server: ScriptedServer,
) -> None:
    transport = PoolTransport()
    assert await fetch(transport, server.port) == b"ok"
    server.accepted[0].shutdown(socket.SHUT_RDWR)
    server.accepted[0].close()
    # Block the event loop: the close is in the kernel, the protocol has not seen it yet.
    time.sleep(0.1)  # noqa: ASYNC251 - blocking the loop is the point
    assert await fetch(transport, server.port) == b"ok"
    assert len(server.accepted) == 2
    assert server.requests == 2
    await transport.aclose()


async def test_connect_errors_and_read_timeouts_are_httpx_errors(server: ScriptedServer) -> None:
    transport = PoolTransport(read_timeout=0.3)
    with pytest.raises(httpx.ConnectError):
        await transport.handle_async_request(request(free_port()))
    server.silent = True
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        await transport.handle_async_request(request(server.port))
    assert 0.25 < time.monotonic() - started < 2
    await transport.aclose()
