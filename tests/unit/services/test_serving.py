"""LeanHttpProtocol in a real uvicorn server on loopback, spoken to with raw sockets and httpx."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

import httpx
import pytest
import uvicorn
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from services.serving import LeanHttpProtocol, _Cycle
from tests.support.live import free_port

#: Upper bound for any single wait in these tests; a hang fails the test instead of the suite.
TIMEOUT = 3.0


# -- the app -------------------------------------------------------------------------------------


async def _text(request: Request) -> Response:
    return PlainTextResponse("hello")


async def _chunks() -> AsyncIterator[bytes]:
    for part in (b"alpha", b"beta", b"gamma"):
        yield part
        await asyncio.sleep(0)


async def _starlette_stream(request: Request) -> Response:
    # Starlette listens for http.disconnect with receive() while it streams (ASGI spec < 2.4).
    return StreamingResponse(_chunks(), media_type="text/plain")


async def _file(request: Request) -> Response:
    # Starlette streams a file while it listens for http.disconnect with receive().
    return FileResponse(__file__, media_type="text/plain")


async def _read_body(receive: Receive) -> tuple[bytes, int]:
    parts: list[bytes] = []
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), len(parts)


async def _answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    head = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body})


@dataclass
class App:
    """Raw ASGI routes where exact messages matter, Starlette's for the rest; test hooks."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    calls: list[str] = field(default_factory=list)
    later: list[Message] = field(default_factory=list)
    later_seen: asyncio.Event = field(default_factory=asyncio.Event)
    receives: int = 0

    def __post_init__(self) -> None:
        self.starlette = Starlette(
            routes=[
                Route("/text", _text),
                Route("/starlette-stream", _starlette_stream),
                Route("/file", _file),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        path: str = scope["path"]
        self.calls.append(path)

        async def counted() -> Message:
            # A receive() that returns without waiting, again and again, would spin the loop.
            self.receives += 1
            if self.receives > 1000:
                raise RuntimeError("receive() returned 1000 times without a disconnect")
            return await receive()

        if path.startswith("/scope"):
            client, server = scope["client"], scope["server"]
            seen = {
                "method": scope["method"],
                "path": path,
                "raw_path": scope["raw_path"].decode("latin-1"),
                "query_string": scope["query_string"].decode("latin-1"),
                "http_version": scope["http_version"],
                "scheme": scope["scheme"],
                "root_path": scope["root_path"],
                "client": [client[0], client[1]],
                "server": [server[0], server[1]],
                "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
            }
            await _answer(send, 200, json.dumps(seen).encode())
        elif path == "/echo":
            body, parts = await _read_body(receive)
            await _answer(send, 200, body, [(b"x-parts", b"%d" % parts)])
        elif path == "/digest":
            self.started.set()
            await self.release.wait()  # let the body pile up in the protocol first
            body, _ = await _read_body(receive)
            await _answer(
                send, 200, b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())
            )
        elif path == "/wait":
            self.started.set()
            await self.release.wait()
            await _answer(send, 200, b"waited")
        elif path == "/watch":
            # Read the body, then wait for the next message: only a disconnect may end the wait.
            await _read_body(receive)
            self.started.set()
            self.later.append(await receive())
            self.later_seen.set()
        elif path == "/watch-twice":
            # Two tasks wait for the disconnect (a disconnect listener and the app, say).
            await _read_body(receive)
            first = asyncio.ensure_future(receive())
            await asyncio.sleep(0)
            second = asyncio.ensure_future(receive())
            with contextlib.suppress(asyncio.TimeoutError):
                # A receive() cancelled by its caller must not strand the others.
                await asyncio.wait_for(receive(), 0.001)
            self.started.set()
            self.later += await asyncio.gather(first, second)
            self.later_seen.set()
        elif path == "/watch-body":
            # Wait for a body that never completes.
            self.started.set()
            self.later.append(await receive())
            self.later.append(await receive())
            self.later_seen.set()
        elif path == "/answer-then-receive":
            body, _ = await _read_body(receive)
            pending = asyncio.ensure_future(receive())
            for _ in range(5):
                await asyncio.sleep(0)
            self.later.append({"type": "done" if pending.done() else "pending"})
            await _answer(send, 200, body)
            self.later.append(await asyncio.wait_for(pending, TIMEOUT))
            self.later_seen.set()
        elif path == "/ignore-body":
            await _answer(send, 200, b"ignored")
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for part in (b"one", b"", b"two", b"three"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/app-chunked":
            # An app may name the framing itself; the server's chunked encoding applies once.
            headers = [(b"transfer-encoding", b"chunked"), (b"x-app", b"yes")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"one", "more_body": True})
            await send({"type": "http.response.body", "body": b"two"})
        elif path == "/large":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            self.started.set()
            for k in range(64):
                part = bytes([65 + k % 26]) * 65536
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        elif path in ("/204", "/304"):
            status = int(path[1:])
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        elif path == "/short":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"10")],
                }
            )
            await send({"type": "http.response.body", "body": b"abc"})
        elif path == "/long":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"3")],
                }
            )
            await send({"type": "http.response.body", "body": b"abc", "more_body": True})
            await send({"type": "http.response.body", "body": b"def"})
        elif path == "/204-with-body":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b"stray"})
        elif path == "/header":
            # One response header named by the query: ?<name>=<value>, both percent-encoded.
            name, _, value = scope["query_string"].partition(b"=")
            extra = [(unquote_to_bytes(name), unquote_to_bytes(value)), (b"x-after", b"yes")]
            await _answer(send, 200, b"ok", extra)
        elif path == "/app-close":
            await _answer(send, 200, b"bye", [(b"connection", b"close")])
        elif path == "/raise":
            raise RuntimeError("boom before the answer")
        elif path == "/raise-after-start":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
            raise RuntimeError("boom while streaming")
        elif path == "/incomplete":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        else:
            await self.starlette(scope, counted, send)


# -- the server and a raw client -----------------------------------------------------------------


@asynccontextmanager
async def serving(app: App, **options: Any) -> AsyncIterator[uvicorn.Server]:
    """Serve ``app`` with LeanHttpProtocol on a free loopback port, in this event loop."""
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": free_port(),
        "http": LeanHttpProtocol,
        "ws": "none",
        "lifespan": "off",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": TIMEOUT,
    }
    settings.update(options)
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.002)
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT * 2)


def url(server: uvicorn.Server) -> str:
    """The server's base URL."""
    return f"http://127.0.0.1:{server.config.port}"


@dataclass
class Answer:
    """One response as it came over the wire."""

    status: int
    head: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    raw: bytes

    def header(self, name: bytes) -> bytes | None:
        values = [value for key, value in self.headers if key == name]
        assert len(values) <= 1, f"{name!r} appears {len(values)} times"
        return values[0] if values else None


class Connection:
    """One raw TCP connection to the server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await asyncio.wait_for(self.writer.drain(), TIMEOUT)

    async def read(self, count: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(count), TIMEOUT)

    async def answer(self, *, head_only: bool = False) -> Answer:
        """Read one response, framed as its head says; the body is checked for exact framing."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        status_line, *lines = head[:-4].split(b"\r\n")
        version, status_text, _ = status_line.split(b" ", 2)
        assert version == b"HTTP/1.1"
        status = int(status_text)
        headers = []
        for line in lines:
            name, _, value = line.partition(b":")
            headers.append((name.lower(), value.strip()))
        answer = Answer(status, head, headers, b"", head)
        length = answer.header(b"content-length")
        if head_only or status in (204, 304) or status < 200:
            return answer
        if answer.header(b"transfer-encoding") == b"chunked":
            assert length is None
            raw = b""
            while True:
                size_line = await asyncio.wait_for(self.reader.readuntil(b"\r\n"), TIMEOUT)
                size = int(size_line, 16)
                chunk = await self.read(size + 2)
                assert chunk.endswith(b"\r\n"), chunk
                raw += size_line + chunk
                answer.body += chunk[:-2]
                if size == 0:
                    break
            answer.raw += raw
        elif length is not None:
            answer.body = await self.read(int(length))
            answer.raw += answer.body
        else:
            answer.body = await self.rest()
            answer.raw += answer.body
        return answer

    async def rest(self) -> bytes:
        """Everything up to the end of the stream (the server closed)."""
        return await asyncio.wait_for(self.reader.read(), TIMEOUT)

    async def closed(self) -> bool:
        """Whether the server closed the connection (and sent nothing more)."""
        return await self.rest() == b""

    async def still_open(self) -> bool:
        """Whether the connection serves another request."""
        await self.send(b"GET /text HTTP/1.1\r\nhost: t\r\n\r\n")
        return (await self.answer()).body == b"hello"


@asynccontextmanager
async def connect(server: uvicorn.Server) -> AsyncIterator[Connection]:
    """A raw connection, closed at the end."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.config.port)
    try:
        yield Connection(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def lean() -> dict[str, Any]:
    """Config options that leave out uvicorn's Date and Server headers (exact bytes)."""
    return {"date_header": False, "server_header": False}


def protocols(server: uvicorn.Server) -> list[LeanHttpProtocol]:
    """The server's open connections."""
    connections: list[object] = list(server.server_state.connections)
    return [c for c in connections if isinstance(c, LeanHttpProtocol)]


async def until(condition: Any, what: str) -> None:
    """Wait (polling briefly) until ``condition()`` is true."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.002)


# -- keep-alive and pipelining -------------------------------------------------------------------


async def test_one_connection_serves_several_requests_with_exact_bytes() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        for body in (b"first", b"second!", b""):
            await conn.send(
                b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\n" % len(body)
            )
            await conn.send(body)
            answer = await conn.answer()
            assert answer.raw == (
                b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n"
                b"x-parts: 1\r\n\r\n%b" % (len(body), body)
            )
        assert len(protocols(server)) == 1
        assert server.server_state.total_requests == 3


async def test_pipelined_requests_are_answered_in_order_one_at_a_time() -> None:
    app = App()
    async with serving(app, **lean()) as server, connect(server) as conn:
        await conn.send(
            b"GET /wait HTTP/1.1\r\nhost: t\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 6\r\n\r\nsecond"
            b"POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\n\r\nthird"
        )
        await asyncio.wait_for(app.started.wait(), TIMEOUT)
        for _ in range(10):
            await asyncio.sleep(0)
        assert app.calls == ["/wait"]  # the next requests wait for the first answer
        app.release.set()
        assert [(await conn.answer()).body for _ in range(3)] == [b"waited", b"second", b"third"]
        assert app.calls == ["/wait", "/echo", "/echo"]
        assert await conn.still_open()


async def test_the_scope_describes_the_request() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /scope/a%20b%2Fc?x=1&y=%20 HTTP/1.1\r\nHost: t\r\nX-Thing: V\r\n\r\n")
        seen = json.loads((await conn.answer()).body)
        local = conn.writer.get_extra_info("sockname")
        assert seen == {
            "method": "GET",
            "path": "/scope/a b/c",
            "raw_path": "/scope/a%20b%2Fc",
            "query_string": "x=1&y=%20",
            "http_version": "1.1",
            "scheme": "http",
            "root_path": "",
            "client": ["127.0.0.1", local[1]],
            "server": ["127.0.0.1", server.config.port],
            "headers": [["host", "t"], ["x-thing", "V"]],
        }
        await conn.send(b"DELETE http://example.com/scope/abs?q=1 HTTP/1.1\r\nhost: t\r\n\r\n")
        seen = json.loads((await conn.answer()).body)
        assert (seen["method"], seen["path"], seen["query_string"]) == (
            "DELETE",
            "/scope/abs",
            "q=1",
        )
        await conn.send(b"GET /scope HTTP/1.0\r\n\r\n")
        assert json.loads((await conn.answer()).body)["http_version"] == "1.0"


# -- request bodies ------------------------------------------------------------------------------


async def test_a_content_length_body_arrives_intact_through_httpx() -> None:
    body = bytes(range(256)) * 40
    async with serving(App()) as server, httpx.AsyncClient(base_url=url(server)) as client:
        answers = [await client.post("/echo", content=body[:k]) for k in (0, 1, 10240)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.content for a in answers] == [b"", body[:1], body]


async def test_a_chunked_request_body_is_reassembled_in_parts() -> None:
    app = App()
    async with serving(app, **lean()) as server, connect(server) as conn:
        await conn.send(
            b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        # The app started, so it has the first part (parsed with the head) before the rest.
        await until(lambda: app.calls == ["/echo"], "the app to start")
        await conn.send(b"6\r\n world\r\n0\r\n\r\n")
        answer = await conn.answer()
        assert answer.body == b"hello world"
        assert int(answer.header(b"x-parts") or b"0") >= 2  # more_body, then the last part
        assert await conn.still_open()


async def test_a_body_larger_than_the_high_water_mark_pauses_reading_and_arrives_intact() -> None:
    body = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)  # 1 MiB
    app = App()
    async with serving(app, **lean()) as server, connect(server) as conn:
        head = b"POST /digest HTTP/1.1\r\nhost: t\r\ncontent-length: %d\r\n\r\n" % len(body)
        conn.writer.write(head + body)
        await asyncio.wait_for(app.started.wait(), TIMEOUT)
        (protocol,) = protocols(server)
        await until(lambda: protocol.read_paused, "the protocol to stop reading")
        app.release.set()
        await asyncio.wait_for(conn.writer.drain(), TIMEOUT)
        answer = await conn.answer()
        assert answer.body == b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())
        assert not protocol.read_paused
        assert await conn.still_open()


async def test_expect_100_continue_is_answered_when_the_app_reads_the_body() -> None:
    app = App()
    async with serving(app, **lean()) as server, connect(server) as conn:
        await conn.send(
            b"POST /digest HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n"
        )
        await asyncio.wait_for(app.started.wait(), TIMEOUT)
        with pytest.raises(TimeoutError):  # nothing is sent before the app reads
            await asyncio.wait_for(conn.reader.read(1), 0.02)
        app.release.set()
        assert await conn.read(25) == b"HTTP/1.1 100 Continue\r\n\r\n"
        await conn.send(b"hello")
        answer = await conn.answer()
        assert answer.status == 200
        assert answer.body.startswith(b"5 ")
        assert await conn.still_open()


async def test_expect_100_continue_is_not_sent_when_the_app_answers_without_the_body() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(
            b"POST /ignore-body HTTP/1.1\r\nhost: t\r\ncontent-length: 5\r\n"
            b"expect: 100-continue\r\n\r\n"
        )
        answer = await conn.answer()
        assert answer.status == 200  # the first thing sent: no 100 Continue before it
        assert answer.body == b"ignored"
        # The body may never come, and the parser would take the next request for it: close.
        assert answer.header(b"connection") == b"close"
        assert await conn.closed()


async def test_an_answer_before_the_whole_body_came_keeps_the_connection() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(
            b"POST /ignore-body HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
            b"5\r\nfirst\r\n"
        )
        answer = await conn.answer()
        assert answer.body == b"ignored"
        assert answer.header(b"connection") is None
        # The caller goes on sending its body: it is read and dropped, not parsed as a request.
        looks_like_a_request = b"GET /text HTTP/1.1\r\nhost: t\r\n\r\n"
        await conn.send(
            b"%x\r\n%b\r\n" % (len(looks_like_a_request), looks_like_a_request)
            + b"6\r\nsecond\r\n" * 50
            + b"0\r\n\r\n"
        )
        assert await conn.still_open()


async def test_a_caller_still_sending_its_body_gets_the_early_answer() -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"b" * 300
            await asyncio.sleep(0)

    async with serving(App()) as server, httpx.AsyncClient(base_url=url(server)) as client:
        for _ in range(5):  # closing under the sender used to reset the connection every time
            answer = await client.post("/ignore-body", content=body())
            assert answer.status_code == 200
            assert answer.content == b"ignored"


# -- responses -----------------------------------------------------------------------------------


async def test_a_streaming_answer_is_chunked_and_correctly_framed() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /stream HTTP/1.1\r\nhost: t\r\n\r\n")
        answer = await conn.answer()
        assert answer.raw == (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b"3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n"
        )
        assert await conn.still_open()


async def test_a_starlette_streaming_response_completes_and_its_disconnect_listener_waits() -> None:
    app = App()
    async with serving(app) as server, httpx.AsyncClient(base_url=url(server)) as client:
        for _ in range(3):
            answer = await client.get("/starlette-stream")
            assert answer.status_code == 200
            assert answer.headers["transfer-encoding"] == "chunked"
            assert answer.content == b"alphabetagamma"
        served = await client.get("/file")
        assert served.status_code == 200
        assert served.content == await asyncio.to_thread(Path(__file__).read_bytes)
    assert app.receives < 20  # receive() waited for the end instead of returning again and again


async def test_a_transfer_encoding_named_by_the_app_is_not_repeated() -> None:
    async with serving(App(), **lean()) as server:
        async with connect(server) as conn:
            await conn.send(b"GET /app-chunked HTTP/1.1\r\nhost: t\r\n\r\n")
            answer = await conn.answer()  # fails if the header appears twice
            assert answer.raw == (
                b"HTTP/1.1 200 OK\r\nx-app: yes\r\ntransfer-encoding: chunked\r\n\r\n"
                b"3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n"
            )
        async with httpx.AsyncClient(base_url=url(server)) as client:
            assert (await client.get("/app-chunked")).content == b"onetwo"


async def test_a_large_answer_waits_for_a_slow_reader_and_arrives_intact() -> None:
    app = App()
    async with serving(app, **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /large HTTP/1.1\r\nhost: t\r\n\r\n")
        await asyncio.wait_for(app.started.wait(), TIMEOUT)
        (protocol,) = protocols(server)
        await until(lambda: protocol.write_paused, "the protocol to stop writing")
        answer = await conn.answer()
        expected = b"".join(bytes([65 + k % 26]) * 65536 for k in range(64))
        assert answer.body == expected
        assert await conn.still_open()


async def test_head_gets_the_headers_and_no_body() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"HEAD /text HTTP/1.1\r\nhost: t\r\n\r\n")
        answer = await conn.answer(head_only=True)
        assert answer.status == 200
        assert answer.header(b"content-length") == b"5"
        await conn.send(b"HEAD /stream HTTP/1.1\r\nhost: t\r\n\r\n")
        answer = await conn.answer(head_only=True)
        assert answer.raw == b"HTTP/1.1 200 OK\r\n\r\n"  # no chunked framing either
        # No body bytes came after either head: the next answer starts right away.
        assert await conn.still_open()


@pytest.mark.parametrize("status", [204, 304])
async def test_no_body_statuses_have_no_body_and_no_framing(status: int) -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /%d HTTP/1.1\r\nhost: t\r\n\r\n" % status)
        answer = await conn.answer()
        assert answer.raw == b"HTTP/1.1 %d %b\r\n\r\n" % (
            status,
            b"No Content" if status == 204 else b"Not Modified",
        )
        assert await conn.still_open()


async def test_an_answer_shorter_than_its_content_length_closes_the_connection() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /short HTTP/1.1\r\nhost: t\r\n\r\n")
        answer = await conn.answer(head_only=True)
        assert answer.header(b"content-length") == b"10"
        assert await conn.rest() == b"abc"  # then the end of the stream


@pytest.mark.parametrize(
    ("path", "received"),
    [
        ("/long", b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc"),
        ("/204-with-body", b""),  # the head waits for the first body part, which is refused
    ],
)
async def test_an_answer_longer_than_its_framing_is_refused_and_the_connection_closed(
    path: str, received: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="uvicorn.error")
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET %b HTTP/1.1\r\nhost: t\r\n\r\n" % path.encode())
        # Nothing past the declared length: extra bytes would be read as the next response.
        assert await conn.rest() == received
    errors = [str(r.exc_info[1]) for r in caplog.records if r.exc_info]
    assert errors == ["response content longer than Content-Length"]


# -- closing ---------------------------------------------------------------------------------------


async def test_connection_close_from_the_client_closes_after_the_answer() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /text HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        answer = await conn.answer()
        assert answer.body == b"hello"
        assert answer.header(b"connection") == b"close"
        assert await conn.closed()


async def test_connection_close_from_the_app_closes_after_the_answer() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /app-close HTTP/1.1\r\nhost: t\r\n\r\n")
        answer = await conn.answer()
        assert answer.body == b"bye"
        assert answer.header(b"connection") == b"close"  # once, though the app gave it too
        assert await conn.closed()


async def test_an_http_1_0_request_is_answered_and_closed() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /text HTTP/1.0\r\n\r\n")
        answer = await conn.answer()
        assert answer.body == b"hello"
        assert answer.header(b"connection") == b"close"
        assert await conn.closed()


# -- uvicorn's default headers ---------------------------------------------------------------------


async def test_date_and_server_headers_are_added_by_default() -> None:
    async with serving(App()) as server, httpx.AsyncClient(base_url=url(server)) as client:
        answer = await client.get("/text")
        streamed = await client.get("/stream")
    assert answer.headers["server"] == "uvicorn"
    assert email.utils.parsedate_to_datetime(answer.headers["date"]).tzinfo is not None
    assert answer.headers.get_list("date") == [answer.headers["date"]]
    assert streamed.headers["server"] == "uvicorn"
    assert "date" in streamed.headers


async def test_date_and_server_headers_can_be_turned_off() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /text HTTP/1.1\r\nhost: t\r\n\r\n")
        answer = await conn.answer()
    names = [name for name, _ in answer.headers]
    assert b"date" not in names
    assert b"server" not in names
    assert names == [b"content-length", b"content-type"]


# -- app failures ----------------------------------------------------------------------------------


async def test_an_app_that_raises_before_answering_gets_a_500_and_a_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="uvicorn.error")
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /raise HTTP/1.1\r\nhost: t\r\n\r\n")
        answer = await conn.answer()
        assert answer.status == 500
        assert answer.body == b"Internal Server Error"
        assert answer.header(b"connection") == b"close"
        assert await conn.closed()
    assert any(
        r.getMessage() == "Exception in ASGI application" and r.exc_info for r in caplog.records
    )


@pytest.mark.parametrize("path", ["/raise-after-start", "/incomplete"])
async def test_an_app_that_fails_after_starting_closes_the_connection(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="uvicorn.error")
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(b"GET %b HTTP/1.1\r\nhost: t\r\n\r\n" % path.encode())
        head = await asyncio.wait_for(conn.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head == b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        # The part sent, and then the end of the stream without the last chunk.
        assert await conn.rest() == b"7\r\npartial\r\n"
    assert any(r.levelno == logging.ERROR for r in caplog.records)


# -- response headers (F13: response splitting) --------------------------------------------------

#: A header the app gives that must never be written: uvicorn's protocols refuse the same.
INVALID_HEADERS = [
    (b"hx-redirect", b"/ok\r\nSet-Cookie: injected=1\r\nX-Injected: yes"),  # the review's
    (b"x-value", b"a\nx-injected: yes"),
    (b"x-value", b"a\rx-injected: yes"),
    (b"x-value", b"a\x00b"),
    (b"x-value", b"a\x01b"),
    (b"x-value", b"a\x7fb"),
    (b"x-name\r\nx-injected", b"yes"),
    (b"x name", b"yes"),
    (b"x-name:", b"yes"),
    (b"", b"yes"),
    (b"x-caf\xc3\xa9", b"yes"),
]


def header_request(name: bytes, value: bytes, method: bytes = b"GET") -> bytes:
    """A request for ``/header`` that makes the app answer with header ``name: value``."""
    query = quote_from_bytes(name, safe=b"") + "=" + quote_from_bytes(value, safe=b"")
    return b"%b /header?%b HTTP/1.1\r\nhost: t\r\n\r\n" % (method, query.encode())


@pytest.mark.parametrize(("name", "value"), INVALID_HEADERS)
async def test_an_invalid_response_header_is_never_written_the_caller_gets_a_500(
    name: bytes, value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="uvicorn.error")
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(header_request(name, value))
        answer = await conn.answer()
        assert answer.status == 500
        assert answer.header(b"content-type") == b"application/json"
        assert json.loads(answer.body)["error"] == "internal_error"
        assert answer.header(b"connection") == b"close"
        assert await conn.closed()
    assert b"injected" not in answer.raw
    assert b"x-after" not in answer.raw  # nothing of the app's head was written
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "Invalid HTTP response header" in caplog.records[0].getMessage()


async def test_an_invalid_header_in_an_answer_to_head_gets_a_500_without_body() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(header_request(b"x-value", b"a\r\nb: c", method=b"HEAD"))
        answer = await conn.answer(head_only=True)
        assert answer.status == 500
        assert await conn.rest() == b""


@pytest.mark.parametrize(
    "value", [b"", b"a\tb", b"caf\xc3\xa9", b"\x80\xff", b'quoted "x"; y=(1)'], ids=repr
)
async def test_valid_header_values_are_written_as_the_app_gives_them(value: bytes) -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        await conn.send(header_request(b"X-Value", value))
        answer = await conn.answer()
        assert answer.status == 200
        assert b"\r\nX-Value: " + value + b"\r\n" in answer.head
        assert answer.header(b"x-after") == b"yes"
        assert await conn.still_open()


class _Written:
    """Just enough of LeanHttpProtocol for one _Cycle: what it writes is kept."""

    write_paused = False

    def __init__(self) -> None:
        self.data = b""
        self.server_state = type("State", (), {"default_headers": [(b"server", b"t")]})()

    def write(self, data: bytes) -> None:
        self.data += data

    def response_done(self, cycle: _Cycle) -> None:
        pass


_CONTROL = frozenset([*range(0, 9), *range(10, 32), 127])


@given(value=st.binary(max_size=40), name=st.binary(min_size=1, max_size=12))
async def test_a_response_head_is_the_apps_headers_or_a_500_never_more_lines(
    value: bytes, name: bytes
) -> None:
    # Every byte string as a name and as a value: written as given exactly when the name is a
    # token and the value has no control character but TAB, else a 500 with nothing of it.
    written = _Written()
    cycle = _Cycle(written, {"method": "GET"}, True)  # type: ignore[arg-type]
    headers = [(name, value), (b"content-length", b"2")]
    await cycle.send({"type": "http.response.start", "status": 200, "headers": headers})
    await cycle.send({"type": "http.response.body", "body": b"ok"})
    head, _, body = written.data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    token = name.lower().decode("latin-1")
    valid_name = all(c in "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz" for c in token)
    if valid_name and not _CONTROL.intersection(value):
        assert lines == [
            b"HTTP/1.1 200 OK",
            b"server: t",
            name + b": " + value,
            b"content-length: 2",
        ]
        assert body == b"ok"
    else:
        assert lines == [
            b"HTTP/1.1 500 Internal Server Error",
            b"server: t",
            b"content-type: application/json",
            b"content-length: %d" % len(body),
            b"connection: close",
        ]
        assert json.loads(body)["error"] == "internal_error"


# -- refused requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"\x00\x01 not http\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: t\r\ncontent-length: nope\r\n\r\n",
        b"GET / HTTP/1.1\r\nbad header line\r\n\r\n",
    ],
    ids=["garbage", "bad-length", "bad-header"],
)
async def test_malformed_http_gets_a_400_and_a_close(request_bytes: bytes) -> None:
    app = App()
    async with serving(app, **lean()) as server, connect(server) as conn:
        await conn.send(request_bytes)
        answer = await conn.answer()
        assert answer.status == 400
        assert answer.header(b"connection") == b"close"
        assert await conn.closed()
    assert app.calls == []


async def test_malformed_http_after_a_good_request_gets_a_400() -> None:
    async with serving(App(), **lean()) as server, connect(server) as conn:
        assert await conn.still_open()
        await conn.send(b"BAD\x00\r\n\r\n")
        assert (await conn.answer()).status == 400
        assert await conn.closed()


@pytest.mark.parametrize(
    "upgrade",
    [
        b"upgrade: websocket\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"sec-websocket-version: 13\r\n",
        b"upgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
    ],
    ids=["websocket", "h2c"],
)
async def test_a_protocol_upgrade_gets_a_400_and_a_close(upgrade: bytes) -> None:
    app = App()
    async with serving(app, **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /text HTTP/1.1\r\nhost: t\r\nconnection: Upgrade\r\n%b\r\n" % upgrade)
        answer = await conn.answer()
        assert answer.status == 400
        assert answer.body == b"upgrades are not supported"
        assert await conn.closed()
    assert app.calls == []


# -- disconnects -----------------------------------------------------------------------------------


async def test_a_client_that_leaves_during_a_slow_app_is_reported_as_a_disconnect() -> None:
    app = App()
    async with serving(app, **lean()) as server:
        async with connect(server) as conn:
            await conn.send(b"POST /watch HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\nhi")
            await asyncio.wait_for(app.started.wait(), TIMEOUT)
            for _ in range(10):
                await asyncio.sleep(0)
            assert app.later == []  # receive() waits: the body is done, the caller still there
        await asyncio.wait_for(app.later_seen.wait(), TIMEOUT)
        assert app.later == [{"type": "http.disconnect"}]


async def test_every_concurrent_receive_gets_the_disconnect() -> None:
    app = App()
    async with serving(app, **lean()) as server:
        async with connect(server) as conn:
            await conn.send(b"POST /watch-twice HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\nhi")
            await asyncio.wait_for(app.started.wait(), TIMEOUT)
        await asyncio.wait_for(app.later_seen.wait(), TIMEOUT)
        assert app.later == [{"type": "http.disconnect"}, {"type": "http.disconnect"}]


async def test_a_client_that_leaves_in_the_middle_of_the_body_is_reported_as_a_disconnect() -> None:
    app = App()
    async with serving(app, **lean()) as server:
        async with connect(server) as conn:
            await conn.send(
                b"POST /watch-body HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\nabc"
            )
            await asyncio.wait_for(app.started.wait(), TIMEOUT)
        await asyncio.wait_for(app.later_seen.wait(), TIMEOUT)
        assert app.later == [
            {"type": "http.request", "body": b"abc", "more_body": True},
            {"type": "http.disconnect"},
        ]


async def test_receive_after_the_whole_body_waits_for_the_answer_then_reports_disconnect() -> None:
    app = App()
    async with serving(app, **lean()) as server, connect(server) as conn:
        await conn.send(
            b"POST /answer-then-receive HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\nok"
        )
        assert (await conn.answer()).body == b"ok"
        await asyncio.wait_for(app.later_seen.wait(), TIMEOUT)
        assert app.later == [{"type": "pending"}, {"type": "http.disconnect"}]
        assert await conn.still_open()


# -- idle connections and shutdown -----------------------------------------------------------------


async def test_idle_keep_alive_connections_are_closed_after_the_timeout() -> None:
    async with (
        serving(App(), timeout_keep_alive=0.15, **lean()) as server,
        connect(server) as used,
        connect(server) as silent,
    ):
        assert await used.still_open()
        start = time.monotonic()
        assert await used.closed()
        assert await silent.closed()
        assert 0.1 <= time.monotonic() - start < 1.0


async def test_a_slow_answer_is_not_cut_by_the_keep_alive_timeout() -> None:
    app = App()
    async with serving(app, timeout_keep_alive=0.05, **lean()) as server, connect(server) as conn:
        await conn.send(b"GET /wait HTTP/1.1\r\nhost: t\r\n\r\n")
        await asyncio.wait_for(app.started.wait(), TIMEOUT)
        await asyncio.sleep(0.15)
        app.release.set()
        assert (await conn.answer()).body == b"waited"


async def test_shutdown_lets_a_request_in_flight_finish_and_closes_idle_connections() -> None:
    app = App()
    async with serving(app, **lean()) as server, connect(server) as busy, connect(server) as idle:
        assert await idle.still_open()
        await busy.send(b"GET /wait HTTP/1.1\r\nhost: t\r\n\r\n")
        await asyncio.wait_for(app.started.wait(), TIMEOUT)
        server.should_exit = True
        assert await idle.closed()  # closed by the shutdown, not by a timeout
        assert not any(s.is_serving() for s in server.servers)
        app.release.set()
        answer = await busy.answer()
        assert answer.body == b"waited"
        assert answer.header(b"connection") == b"close"
        assert await busy.closed()
