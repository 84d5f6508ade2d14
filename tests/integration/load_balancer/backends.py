"""Backends for the load balancer's tests: an echo app, and raw servers that misbehave.

``EchoBackend`` is an ASGI app served with uvicorn (in a thread, or as a process with
``python -m tests.integration.load_balancer.backends PORT INSTANCE_ID``). It answers
``/health`` with its instance id and ``/nl/jsp/ping.jsp`` (503 when told to be unhealthy), and
echoes every other request as JSON: which backend, method, path, raw target, headers, body size
and digest. ``/slow?s=N`` waits N seconds first; ``/big?n=N`` streams N bytes back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import socketserver
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

import uvicorn

from tests.support.live import free_port


class EchoBackend:
    """An ASGI backend that records and echoes what it receives."""

    def __init__(self, name: str, instance_id: int | None = None) -> None:
        self.name = name
        self.instance_id = instance_id
        self.healthy = True
        self.hits: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def count(self) -> int:
        """Return how many echo requests arrived (health checks not counted)."""
        with self.lock:
            return len(self.hits)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path == "/health":
            await _json(send, 200, {"service": "execution", "instance_id": self.instance_id})
            return
        if path == "/nl/jsp/ping.jsp":
            if self.healthy:
                await _text(send, 200, b"OK\n")
            else:
                await _text(send, 503, b"Error\n")
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # a request cut short is not a request
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        query = parse_qs(scope["query_string"].decode())
        record = {
            "backend": self.name,
            "instance_id": self.instance_id,
            "method": scope["method"],
            "path": path,
            "raw_path": scope["raw_path"].decode("latin-1"),
            "query": scope["query_string"].decode("latin-1"),
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body_length": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
        with self.lock:
            self.hits.append(record)
        if path == "/slow":
            await asyncio.sleep(float(query.get("s", ["1"])[0]))
        if path == "/big":
            size = int(query.get("n", ["0"])[0])
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")],
                }
            )
            chunk = bytes(range(256)) * 256
            sent = 0
            while sent < size:
                piece = chunk[: min(len(chunk), size - sent)]
                sent += len(piece)
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        status = int(query.get("status", ["200"])[0])
        await _json(send, status, record, extra=[(b"set-cookie", b"backend=" + self.name.encode())])


async def _json(
    send: Any, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": data})


async def _text(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def serve_asgi(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"backend on port {port} did not start")
        threading.Event().wait(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class RawBackend:
    """A TCP server that reads one request head and then misbehaves.

    ``mode`` is ``garbage`` (answers bytes that are not HTTP), ``hangup`` (closes without an
    answer) or ``health-only`` (answers health checks and ping, hangs up on anything else).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.requests: list[bytes] = []
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                data = b""
                while True:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                    head, _, data = data.partition(b"\r\n\r\n")
                    line = head.split(b"\r\n", 1)[0]
                    is_check = b"/nl/jsp/ping.jsp" in line or b" /health " in line
                    if is_check and owner.mode != "garbage":
                        body = b'{"instance_id": null}' if b"/health" in line else b"OK\n"
                        conn.sendall(
                            b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%b" % (len(body), body)
                        )
                        continue
                    owner.requests.append(line)
                    if owner.mode == "garbage":
                        conn.sendall(b"THIS IS NOT HTTP\r\n\r\n")
                    conn.close()
                    return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RawBackend:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    uvicorn.run(
        EchoBackend(f"backend-{sys.argv[2]}", int(sys.argv[2])),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
    )
