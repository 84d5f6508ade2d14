"""A minimal HTTP/1.1 keep-alive client for load generators: POST a body, get (status, body).

The load generator shares the machine's two cores with the services it measures. Through httpx
(even over mcsim's own pool transport) a single PushEvent cost the generator 330-410 µs of CPU,
a fifth of the whole stack's CPU per message at 1,000 events/s; this client writes prepared
request bytes on idle keep-alive connections and reads each answer by its Content-Length
(~125 µs a PushEvent at 1,000/s, against ~210 µs through mcsim's pool transport called
directly, without httpx's client, measured side by side).
It speaks only what the benchmarks need: no chunked answers, no redirects, no TLS.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

__all__ = ["LeanClient"]


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1")
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((int(head[9:12]), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionError(f"the server closed the connection: {exc}"))


class LeanClient:
    """POST to one ``host:port`` over as many keep-alive connections as calls in flight."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str]) -> None:
        self.host, self.port = host, port
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._headers = f"Host: {host}:{port}\r\n{lines}".encode("latin-1")
        self._idle: list[_Connection] = []

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """Send ``body`` to ``path``; return the answer's status and body (60 s at most)."""
        connection = self._idle.pop() if self._idle else None
        while connection is not None and connection.closed:  # the server's keep-alive ran out
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = await self._connect()
        waiter: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        connection.waiter = waiter
        assert connection.transport is not None
        connection.transport.write(
            b"POST %s HTTP/1.1\r\n%sContent-Length: %d\r\n\r\n%s"
            % (path.encode("latin-1"), self._headers, len(body), body)
        )
        try:
            answer = await asyncio.wait_for(waiter, 60)
        except TimeoutError:
            connection.transport.close()  # its answer may still come: never reuse it
            raise
        if not connection.closed:
            self._idle.append(connection)
        return answer

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(_Connection, self.host, self.port)
        return connection

    def close(self) -> None:
        """Close every idle connection."""
        for connection in self._idle:
            if connection.transport is not None:
                connection.transport.close()
        self._idle.clear()
