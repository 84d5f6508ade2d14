"""mcsim's outbound HTTP under httpx: an HTTP/1.1 keep-alive pool on asyncio protocols.

Built for the balancer's data path, and the transport of every service's ``http://`` calls
(:func:`services.http.create_http_client`): the execution instance's calls to mid-sourcing
above all. httpx's default transport (httpcore) spends most of a small request's CPU in its
pool. This transport implements the same :class:`httpx.AsyncBaseTransport` interface with far
less work per request: one :class:`asyncio.Protocol` per connection, responses parsed by
``httptools`` (llhttp, the parser uvicorn uses), idle connections kept per origin and reused
last-in first-out, and timers instead of tasks for timeouts. It speaks only ``http://`` and
HTTP/1.1 — what mcsim's services speak (``https://`` URLs keep httpx's own transport).

It honours httpx's ``target`` request extension (the request target to send instead of the
URL's path), so a caller can keep one parsed :class:`httpx.URL` per backend. Failures are
httpx's own exceptions: :class:`httpx.ConnectError` and :class:`httpx.ConnectTimeout` mean the
request never left this process; anything later (:class:`httpx.ReadTimeout`,
:class:`httpx.ReadError`, :class:`httpx.WriteError`, :class:`httpx.RemoteProtocolError`) means
it may have reached the backend.
"""

from __future__ import annotations

import asyncio
import collections
import select
import time
from collections.abc import AsyncIterator
from typing import cast

import httptools
import httpx

from services.raw_headers import Triple, normalized_headers

__all__ = ["BufferedBody", "PoolTransport", "ResponseBody"]

#: Response bytes buffered per connection before reading from the backend is paused.
_HIGH_WATER = 256 * 1024


class BufferedBody(httpx.AsyncByteStream):
    """A request body that is already in memory: sent in the same write as the request head."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the body in one piece."""
        if self.body:
            yield self.body


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a backend; serves one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: _Origin | None = None) -> None:
        self.loop = loop
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._head: asyncio.Future[None] | None = None
        self._status = 0
        self._headers: list[Triple] = []
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused_reading = False
        self._body_waiter: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._write_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self.complete = False
        self.keep_alive = True
        self._until_eof = False
        self._poll: select.poll | None = None

    # -- asyncio callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        # uvloop's transports implement asyncio.Transport without inheriting from it.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._poll = select.poll()
            self._poll.register(sock.fileno(), select.POLLIN | select.POLLPRI)

    def dropped(self) -> bool:
        """Return whether the idle connection has something to read: the backend's close.

        The event loop may not have processed the close yet when a request picks the
        connection; a request written to it would then fail after it was sent, and could not
        be retried. One ``poll`` with no wait tells.
        """
        return self._poll is not None and bool(self._poll.poll(0))

    def data_received(self, data: bytes) -> None:
        """Feed the response parser."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"invalid HTTP response from the backend: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        """Close on the backend's end of stream (never half-open)."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail whatever waits for this connection."""
        self.closed = True
        if self._until_eof and self._head is not None and self._head.done():
            # A response without Content-Length or chunked encoding ends with the connection.
            self.complete = True
            self.keep_alive = False
            self._wake_body()
        if not self.complete:
            self._fail(httpx.ReadError("the backend closed the connection"))
        self._wake_drain()

    def pause_writing(self) -> None:
        """Stop writing the request body until the socket buffer drains."""
        self._write_paused = True

    def resume_writing(self) -> None:
        """Continue writing the request body."""
        self._write_paused = False
        self._wake_drain()

    # -- httptools callbacks -----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        """Keep one response header (names as the backend spelled them)."""
        self._headers.append((name, name.lower(), value))

    def on_headers_complete(self) -> None:
        """The status line and headers are in: wake the request."""
        self._status = self.parser.get_status_code()
        if self._status < 200:
            # 1xx interim answers (100 Continue) are dropped; the real answer follows.
            self._headers = []
            return
        self.keep_alive = self.parser.should_keep_alive()
        self._until_eof = self._status not in (204, 304) and not any(
            lowered in (b"content-length", b"transfer-encoding") for _, lowered, _ in self._headers
        )
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        """Buffer a piece of the response body; pause reading when too much waits."""
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused_reading and self.transport:
            self._paused_reading = True
            self.transport.pause_reading()
        self._wake_body()

    def on_message_complete(self) -> None:
        """The whole response is in."""
        if self._status < 200:
            return
        self.complete = True
        self._wake_body()

    # -- used by the transport ---------------------------------------------------------------

    def start(self) -> asyncio.Future[None]:
        """Reset the per-request state and return the future of the response head."""
        self._head = self.loop.create_future()
        self._status = 0
        self._headers = []
        self._chunks.clear()
        self._buffered = 0
        self._error = None
        self.complete = False
        self.keep_alive = True
        self._until_eof = False
        return self._head

    def write(self, data: bytes) -> None:
        """Write to the backend, or fail when the connection is gone."""
        if self.closed or self.transport is None or self.transport.is_closing():
            raise httpx.WriteError("the connection to the backend is closed")
        self.transport.write(data)

    async def drain(self) -> None:
        """Wait until the socket accepts more request body."""
        if self._write_paused and not self.closed:
            self._drain_waiter = self.loop.create_future()
            await self._drain_waiter
        if self.closed:
            raise httpx.WriteError("the backend closed the connection while the body was sent")

    def head(self) -> tuple[int, list[Triple]]:
        """Return the status and headers of the response."""
        return self._status, self._headers

    async def next_chunk(self, wait: float) -> bytes:
        """Return the next piece of the response body, or ``b""`` at its end."""
        while not self._chunks:
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            waiter = self._body_waiter = self.loop.create_future()
            timer = self.loop.call_later(wait, _expire, waiter, "body")
            try:
                await waiter
            finally:
                timer.cancel()
                self._body_waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused_reading and self._buffered <= _HIGH_WATER // 4 and self.transport:
            self._paused_reading = False
            self.transport.resume_reading()
        return chunk

    def drain_chunks(self) -> bytes:
        """Return and forget every buffered piece of the body."""
        chunks = self._chunks
        if len(chunks) == 1:
            body = chunks.popleft()
        else:
            body = b"".join(chunks)
            chunks.clear()
        self._buffered = 0
        return body

    def reusable(self) -> bool:
        """Return whether the connection can serve another request."""
        return self.complete and self.keep_alive and not self.closed and not self._chunks

    def close(self) -> None:
        """Close the connection."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        self._error = error
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
            # Nobody may await it any more (the request already failed); don't warn about it.
            self._head.exception()
        self._wake_body()

    def _wake_body(self) -> None:
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_drain(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._drain_waiter = None


def _expire(waiter: asyncio.Future[None], what: str) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout(f"the backend sent no {what} in time"))


class _Origin:
    """Idle connections to one ``host:port``."""

    __slots__ = ("host", "idle", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.idle: list[_Connection] = []


class ResponseBody(httpx.AsyncByteStream):
    """The body of one response, read from its connection; closing it frees the connection."""

    __slots__ = ("_connection", "_done", "_pool", "_timeout")

    def __init__(self, pool: PoolTransport, connection: _Connection, timeout: float) -> None:
        self._pool = pool
        self._connection = connection
        self._timeout = timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives."""
        connection = self._connection
        while True:
            chunk = await connection.next_chunk(self._timeout)
            if not chunk:
                return
            yield chunk

    def ready(self) -> bytes | None:
        """Return the whole body when it is already in memory (small answers), else None."""
        connection = self._connection
        if not connection.complete:
            return None
        chunks = connection.drain_chunks()
        return chunks

    async def aclose(self) -> None:
        """Give the connection back to its pool when the response was read to its end."""
        if self._done:
            return
        self._done = True
        self._pool.release(self._connection)


class PoolTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections per origin, with connect and read timeouts."""

    def __init__(
        self,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 30.0,
        max_idle_per_origin: int = 256,
        idle_seconds: float = 2.0,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle_per_origin = max_idle_per_origin
        # Backends close idle keep-alive connections (uvicorn after 5 s); dropping ours sooner
        # avoids sending a request on a connection the backend is closing at that moment.
        self.idle_seconds = idle_seconds
        self._origins: dict[bytes, _Origin] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a pooled connection and return once the response head is in."""
        url = request.url
        origin = self._origins.get(url.netloc)
        if origin is None:
            if url.scheme != "http":
                raise httpx.UnsupportedProtocol(f"this transport speaks http only: {url}")
            origin = self._origins[url.netloc] = _Origin(url.host, url.port or 80)
        connection = await self._acquire(origin, request)
        head_future = connection.start()
        target = request.extensions.get("target") or url.raw_path
        parts = [request.method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
        for name, value in request.headers.raw:
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"\r\n")
        stream = request.stream
        try:
            if isinstance(stream, BufferedBody):
                parts.append(stream.body)
                connection.write(b"".join(parts))
            else:
                connection.write(b"".join(parts))
                await self._write_stream(connection, request, head_future)
            timer = connection.loop.call_later(
                self.read_timeout, _expire, head_future, "response head"
            )
            try:
                await head_future
            finally:
                timer.cancel()
        except BaseException:
            connection.close()
            raise
        status, headers = connection.head()
        if request.method == "HEAD":
            # llhttp would wait for the body that Content-Length announces; there is none.
            connection.keep_alive = False
            connection.complete = True
        return httpx.Response(
            status,
            headers=normalized_headers(headers),
            stream=ResponseBody(self, connection, self.read_timeout),
            extensions={"http_version": b"HTTP/1.1"},
            request=request,
        )

    async def _acquire(self, origin: _Origin, request: httpx.Request) -> _Connection:
        idle = origin.idle
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if (
                connection.closed
                or now - connection.idle_since > self.idle_seconds
                or connection.dropped()
            ):
                connection.close()
                continue
            return connection
        if self._closed:
            raise httpx.ConnectError("the transport is closed", request=request)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(loop, origin), origin.host, origin.port
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(
                f"no connection to {origin.host}:{origin.port} within {self.connect_timeout} s",
                request=request,
            ) from None
        except OSError as exc:
            raise httpx.ConnectError(
                f"cannot connect to {origin.host}:{origin.port}: {exc.strerror or exc}",
                request=request,
            ) from None
        return connection

    async def _write_stream(
        self, connection: _Connection, request: httpx.Request, head: asyncio.Future[None]
    ) -> None:
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        stream = request.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        async for chunk in stream:
            if head.done():
                # The backend answered before the whole body was sent (e.g. 413): stop here.
                return
            if not chunk:
                continue
            connection.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            await connection.drain()
        if chunked and not head.done():
            connection.write(b"0\r\n\r\n")

    def release(self, connection: _Connection) -> None:
        """Keep ``connection`` for the next request to its origin, or close it."""
        if self._closed or not connection.reusable():
            connection.close()
            return
        origin = connection.origin
        if origin is None or len(origin.idle) >= self.max_idle_per_origin:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        origin.idle.append(connection)

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their response ends."""
        self._closed = True
        for origin in self._origins.values():
            for connection in origin.idle:
                connection.close()
            origin.idle.clear()
