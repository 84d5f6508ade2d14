"""The benchmarks' lean HTTP client: answers read whole, keep-alive reused, closed ones skipped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from benchmarks.lean_client import LeanClient


class _Server:
    """A loopback HTTP/1.1 server that answers each POST with its body, in two writes."""

    def __init__(self, *, close_after_answer: bool) -> None:
        self.close_after_answer = close_after_answer
        self.connections = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                length = next(
                    int(line.split(":", 1)[1])
                    for line in head.split("\r\n")
                    if line.lower().startswith("content-length:")
                )
                body = await reader.readexactly(length)
                answer = b"echo:" + body
                # The head and the body in separate packets: the client must wait for both.
                writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n" % len(answer))
                await writer.drain()
                await asyncio.sleep(0.01)
                writer.write(answer)
                await writer.drain()
                if self.close_after_answer:  # as a server whose keep-alive timeout ran out
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def _serving(*, close_after_answer: bool) -> AsyncIterator[_Server]:
    server = _Server(close_after_answer=close_after_answer)
    await server.start()
    try:
        yield server
    finally:
        assert server.server is not None
        server.server.close()


@pytest.fixture
async def keep_alive() -> AsyncIterator[_Server]:
    async with _serving(close_after_answer=False) as server:
        yield server


@pytest.fixture
async def closing() -> AsyncIterator[_Server]:
    async with _serving(close_after_answer=True) as server:
        yield server


async def test_answers_are_read_whole_and_the_connection_is_reused(keep_alive: _Server) -> None:
    client = LeanClient("127.0.0.1", keep_alive.port, {"content-type": "text/xml"})
    try:
        for n in range(3):
            assert await client.post("/x", b"call %d" % n) == (201, b"echo:call %d" % n)
    finally:
        client.close()
    assert keep_alive.connections == 1


async def test_connections_the_server_closed_while_idle_are_not_reused(closing: _Server) -> None:
    client = LeanClient("127.0.0.1", closing.port, {})
    try:
        assert await client.post("/x", b"first") == (201, b"echo:first")
        await asyncio.sleep(0.05)  # the server has closed that connection meanwhile
        second = await asyncio.wait_for(client.post("/x", b"second"), 5)
    finally:
        client.close()
    assert second == (201, b"echo:second")
    assert closing.connections == 2
