"""A lean HTTP/1.1 server protocol for mcsim's services, plugged into uvicorn.

uvicorn's own httptools protocol does, for every request, work that a service answering
thousands of small calls a second (the balancer, the SOAP routers) cannot afford: regular
expressions over every response header, an ``asyncio.Event`` and a keep-alive timer per
request, and a ``send`` system call for the head and another for the body. This protocol
speaks the same ASGI to the same app with less: the head is written together with the first
body part (one ``send`` for a small answer), response headers are checked with one dict
lookup per name and one pass over the whole head, and one idle timer per connection.

Every header the app gives is checked as uvicorn's own protocols check them: the name a token,
the value free of CR, LF, NUL and the other control characters but TAB. A response with an
invalid header is never written (a CR/LF in a value would split the response, F13): the caller
gets a 500 in mcsim's JSON error shape instead, the connection is closed, and the header's name
is logged.

uvicorn still owns everything around it — sockets, workers, signals, lifespan, the graceful
shutdown and the ``Date``/``Server`` headers it refreshes every second (added to every answer
as uvicorn's protocol does, unless its config turns them off), through the same interface its
protocols have (``server_state.connections``, ``tasks`` and ``default_headers``,
``shutdown()``). Use it with ``uvicorn.Config(http=LeanHttpProtocol)`` or
``uvicorn.run(app, http=LeanHttpProtocol)``. Not supported: protocol upgrades (WebSocket,
h2c), which are answered 400.
"""

from __future__ import annotations

import asyncio
import collections
import http
import logging
import re
from typing import Any, cast
from urllib.parse import unquote

import httptools
from starlette.types import ASGIApp, Message

from services.waiting import server_stopping

__all__ = ["LeanHttpProtocol"]

log = logging.getLogger("uvicorn.error")


def _line(code: int) -> bytes:
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (code, phrase.encode("ascii"))


_STATUS_LINES = {code: _line(code) for code in range(100, 600)}
_HIGH_WATER = 64 * 1024
_ASGI = {"version": "3.0", "spec_version": "2.3"}
_NO_BODY_STATUS = frozenset({204, 304})
#: What a response header's lower-cased name means to the protocol. Names are tokens (RFC 9110):
#: one the app gives is checked once and remembered (up to a bound), so the common case is the
#: one dict lookup that also finds the names the protocol handles itself.
_INVALID, _FIELD, _LENGTH, _CONNECTION, _FRAMING = range(5)
_NAME_KINDS = {
    b"content-length": _LENGTH,
    b"connection": _CONNECTION,
    b"transfer-encoding": _FRAMING,
}
_MAX_NAME_KINDS = 1024
_token = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+").fullmatch
#: Every control character but TAB becomes LF: a head whose values hold none has exactly two
#: (CR and LF) per header line. uvicorn's httptools protocol refuses the same characters.
_CONTROLS_TO_LF = bytes(
    10 if (byte < 32 and byte != 9) or byte == 127 else byte for byte in range(256)
)
_INVALID_HEADER_BODY = (
    b'{"error":"internal_error","message":"The response was not sent: it had an invalid header."}'
)


def _status_line(code: int) -> bytes:
    return _STATUS_LINES.get(code) or _line(code)


def _name_kind(name: bytes) -> int:
    """Return ``_FIELD`` for a header name not seen before that is a token, else ``_INVALID``."""
    lowered = name.lower()
    if _token(lowered) is None:
        return _INVALID
    if len(_NAME_KINDS) < _MAX_NAME_KINDS:
        _NAME_KINDS[lowered] = _FIELD
    return _FIELD


def _invalid_value_name(head: list[bytes]) -> bytes:
    """Return the name of the first header of ``head`` holding a control character."""
    for at in range(1, len(head) - 3, 4):
        if (head[at] + head[at + 2]).translate(_CONTROLS_TO_LF).count(b"\n"):
            return head[at]
    return b""


class _Cycle:
    """One request and its response."""

    __slots__ = (
        "body",
        "chunked",
        "complete_request",
        "disconnected",
        "expect_continue",
        "head",
        "keep_alive",
        "method",
        "protocol",
        "received",
        "remaining",
        "response_complete",
        "response_started",
        "scope",
        "waiter",
    )

    def __init__(self, protocol: LeanHttpProtocol, scope: dict[str, Any], keep_alive: bool) -> None:
        self.protocol = protocol
        self.scope = scope
        self.method: str = scope["method"]
        self.keep_alive = keep_alive
        self.body: list[bytes] = []
        self.complete_request = False
        self.received = False
        self.disconnected = False
        self.expect_continue = False
        self.waiter: asyncio.Future[None] | None = None
        self.response_started = False
        self.response_complete = False
        self.head: list[bytes] | None = None
        self.chunked = False
        self.remaining = -1

    def wake(self) -> None:
        """Wake a ``receive`` that waits for body or a disconnect."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self, app: ASGIApp) -> None:
        """Run the app for this request; answer 500 if it fails before it answered."""
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            log.error("Exception in ASGI application", exc_info=exc)
            if not self.response_started and not self.disconnected:
                body = b"Internal Server Error"
                self.keep_alive = False
                await self.send(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await self.send({"type": "http.response.body", "body": body})
            elif not self.response_complete:
                self.protocol.close()
            if not isinstance(exc, Exception):
                raise
        else:
            if not self.response_complete and not self.disconnected:
                log.error("ASGI callable returned without completing response.")
                self.protocol.close()

    async def receive(self) -> Message:
        """Return the next part of the request body, or ``http.disconnect``."""
        protocol = self.protocol
        if self.expect_continue and not self.disconnected:
            self.expect_continue = False
            protocol.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if not self.body and not self.disconnected and not self.response_complete:
            if not self.complete_request:
                protocol.resume_reading()
            elif not self.received:
                self.received = True
                return {"type": "http.request", "body": b"", "more_body": False}
            # Wait for more body or, once the whole body was received, for the end of the
            # response or a disconnect (as uvicorn does: a loop over receive() must not spin).
            waiter = self.waiter
            if waiter is None or waiter.done():
                waiter = self.waiter = protocol.loop.create_future()
            # Shared by concurrent receive() calls: one caller's cancellation ends no other wait.
            await asyncio.shield(waiter)
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        chunks = self.body
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.body = []
        self.received = self.complete_request
        return {"type": "http.request", "body": body, "more_body": not self.complete_request}

    async def send(self, message: Message) -> None:
        """Write the response; the head goes out with the first part of the body."""
        protocol = self.protocol
        if protocol.write_paused and not self.disconnected:
            await protocol.drain()
        if self.disconnected:
            return
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected 'http.response.start', got {kind!r}")
            self.response_started = True
            if self.expect_continue and not self.complete_request:
                # The caller was not told to send its body and may never send it: close after.
                self.keep_alive = False
            self.expect_continue = False
            status: int = message["status"]
            head = [_status_line(status)]
            for name, value in protocol.server_state.default_headers:  # Date, Server
                head += (name, b": ", value, b"\r\n")
            length = None
            kinds = _NAME_KINDS
            for name, value in message.get("headers", ()):
                kind = kinds.get(name.lower()) or _name_kind(name)
                if kind == _FIELD:
                    pass
                elif kind == _LENGTH:
                    length = value
                elif kind == _CONNECTION:
                    if b"close" in value.lower():
                        self.keep_alive = False
                        continue
                elif kind == _FRAMING:
                    continue  # the framing is the server's (chunked unless Content-Length)
                else:
                    self._refuse_response(name)
                    return
                head += (name, b": ", value, b"\r\n")
            # One pass over the head: a CR, LF or NUL in a value would split the response. A
            # head without any has two control characters (CR LF) per line: 1 + 4 parts a line.
            block = b"".join(head)
            if block.translate(_CONTROLS_TO_LF).count(b"\n") != (len(head) + 3) >> 1:
                self._refuse_response(_invalid_value_name(head))
                return
            head = [block]
            if length is not None:
                self.remaining = int(length)
            elif self.method != "HEAD" and status not in _NO_BODY_STATUS:
                self.chunked = True
                head.append(b"transfer-encoding: chunked\r\n")
            else:
                self.remaining = 0  # no body may follow the head
            if not self.keep_alive:
                head.append(b"connection: close\r\n")
            head.append(b"\r\n")
            self.head = head
            return
        if kind != "http.response.body" or self.response_complete:
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        parts = self.head or []
        self.head = None
        if self.method == "HEAD":
            pass
        elif self.chunked:
            if body:
                parts += (b"%x\r\n" % len(body), body, b"\r\n")
            if not more:
                parts.append(b"0\r\n\r\n")
        elif body:
            if len(body) > self.remaining:
                # Extra bytes would be read as the start of the next response.
                raise RuntimeError("response content longer than Content-Length")
            parts.append(body)
            self.remaining -= len(body)
        if parts:
            protocol.write(parts[0] if len(parts) == 1 else b"".join(parts))
        if not more:
            self.response_complete = True
            if self.remaining > 0 and self.method != "HEAD":
                # Shorter than its Content-Length: the caller must not wait for the rest.
                self.keep_alive = False
            self.wake()
            protocol.response_done(self)

    def _refuse_response(self, name: bytes) -> None:
        """Answer 500 instead of a response with an invalid header; drop the app's body."""
        log.error(
            "Invalid HTTP response header %r (a name that is not a token, or a control "
            "character in the value): answered 500 instead",
            name[:64],
        )
        protocol = self.protocol
        body = b"" if self.method == "HEAD" else _INVALID_HEADER_BODY
        head = [_status_line(500)]
        for default_name, value in protocol.server_state.default_headers:
            head += (default_name, b": ", value, b"\r\n")
        head.append(
            b"content-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % len(_INVALID_HEADER_BODY)
        )
        head.append(body)
        protocol.write(b"".join(head))
        self.keep_alive = False
        self.response_complete = True
        self.disconnected = True  # what the app still sends is dropped, as for a gone caller
        self.wake()
        protocol.response_done(self)


class LeanHttpProtocol(asyncio.Protocol):
    """HTTP/1.1 for one ASGI app, with keep-alive, pipelining and uvicorn's shutdown."""

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any] | None = None,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app: ASGIApp = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self.app_state = app_state if app_state is not None else {}
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.cycle: _Cycle | None = None
        self.parsing: _Cycle | None = None
        self.pipeline: collections.deque[_Cycle] = collections.deque()
        self.write_paused = False
        self.read_paused = False
        self._drain: asyncio.Future[None] | None = None
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._idle: asyncio.TimerHandle | None = None
        self._closing = False

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the connection with the server."""
        self.transport = cast(asyncio.Transport, transport)
        self.server_state.connections.add(self)
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else None
        self.server = (str(sock[0]), int(sock[1])) if isinstance(sock, tuple) else None
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        """Parse what the caller sent."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse(b"upgrades are not supported")
        except httptools.HttpParserError:
            self._refuse(b"invalid HTTP request")

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell the requests in progress that the caller is gone."""
        self.server_state.connections.discard(self)
        self._closing = True
        if self._idle is not None:
            self._idle.cancel()
        for cycle in (self.cycle, self.parsing, *self.pipeline):
            if cycle is not None:
                cycle.disconnected = True
                cycle.wake()
        self._wake_drain()

    def pause_writing(self) -> None:
        """Stop the app's sends until the caller reads."""
        self.write_paused = True

    def resume_writing(self) -> None:
        """Let the app send again."""
        self.write_paused = False
        self._wake_drain()

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        """Start a new request."""
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        """Collect the request target."""
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        """Collect one header (names lower-cased, as ASGI wants)."""
        self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        """Build the scope and start (or queue) the request."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        parser = self.parser
        if parser.should_upgrade():
            return  # feed_data raises HttpParserUpgrade next: refused with a 400
        url = self._url
        if url[:1] == b"/":
            raw_path, _, query = url.partition(b"?")
        else:
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path or b"/", parsed.query or b""
        path = raw_path.decode("latin-1")
        if "%" in path:
            path = unquote(path)
        version = parser.get_http_version()
        scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": version,
            "server": self.server,
            "client": self.client,
            "scheme": "http",
            "method": parser.get_method().decode("ascii"),
            "root_path": self.config.root_path,
            "path": path,
            "raw_path": raw_path,
            "query_string": query,
            "headers": self._headers,
            "state": self.app_state.copy(),
        }
        keep_alive = version == "1.1" and parser.should_keep_alive() and not self._closing
        cycle = _Cycle(self, scope, keep_alive)
        for name, value in self._headers:
            if name == b"expect" and value.lower() == b"100-continue":
                cycle.expect_continue = True
        self.parsing = cycle
        if self.cycle is None:
            self._start(cycle)
        else:
            self.pipeline.append(cycle)
            self.pause_reading()

    def on_body(self, body: bytes) -> None:
        """Hand a piece of the request body to its request."""
        cycle = self.parsing
        if cycle is None or cycle.response_complete or cycle.disconnected:
            return
        cycle.body.append(body)
        if sum(len(b) for b in cycle.body) > _HIGH_WATER:
            self.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        """The request's body is complete."""
        cycle = self.parsing
        if cycle is None:
            return
        cycle.complete_request = True
        self.parsing = None
        cycle.wake()

    # -- used by the requests --------------------------------------------------------------

    def _start(self, cycle: _Cycle) -> None:
        self.cycle = cycle
        task = self.loop.create_task(cycle.run(self.app))
        tasks = self.server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def response_done(self, cycle: _Cycle) -> None:
        """Close or keep the connection once a response is complete; start the next request."""
        self.server_state.total_requests += 1
        if not cycle.complete_request:
            # The app answered before the whole body came: the rest is read and dropped, as
            # uvicorn does (closing now would reset the connection under a caller still
            # sending its body, and it would lose the answer).
            cycle.body = []
        self.cycle = None
        if not cycle.keep_alive or self._closing:
            self.close()
            return
        self.resume_reading()
        if self.pipeline:
            self._start(self.pipeline.popleft())
        else:
            self._arm_idle()

    def write(self, data: bytes) -> None:
        """Write to the caller unless the connection is closing."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    async def drain(self) -> None:
        """Wait until the caller has read enough of what was written."""
        if self.write_paused and not self._closing:
            self._drain = self.loop.create_future()
            await self._drain

    def _wake_drain(self) -> None:
        waiter = self._drain
        self._drain = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pause_reading(self) -> None:
        """Stop reading from the caller (too much body is waiting)."""
        if not self.read_paused and self.transport is not None:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """Read from the caller again."""
        if self.read_paused and self.transport is not None and not self._closing:
            self.read_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        """Close the connection."""
        self._closing = True
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def shutdown(self) -> None:
        """Close when idle, or after the response in progress (uvicorn's graceful shutdown)."""
        server_stopping()  # open event streams end now rather than at the graceful timeout
        if self.cycle is None:
            self.close()
        else:
            self._closing = True
            self.cycle.keep_alive = False

    def _arm_idle(self) -> None:
        self._idle = self.loop.call_later(self.config.timeout_keep_alive, self._on_idle)

    def _on_idle(self) -> None:
        self._idle = None
        if self.cycle is None:
            self.close()

    def _refuse(self, reason: bytes) -> None:
        if self.cycle is None:
            self.write(
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%b" % (len(reason), reason)
            )
        self.close()
