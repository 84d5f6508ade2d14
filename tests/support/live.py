"""Serve an app with a real uvicorn server on a free loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(app: FastAPI, *, port: int | None = None, **options: Any) -> Iterator[str]:
    """Run ``app`` (lifespan included) on 127.0.0.1 and yield its base URL.

    ``options`` go to ``uvicorn.Config`` (e.g. ``services.runner.uvicorn_options()``, to serve
    with mcsim's own HTTP protocol as the services do).
    """
    port = port or free_port()
    settings: dict[str, Any] = {"log_config": None, "access_log": False, **options}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **settings)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the test server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def get(url: str) -> httpx.Response:
    """GET ``url`` synchronously (for tests outside an event loop)."""
    return httpx.get(url, timeout=10)
