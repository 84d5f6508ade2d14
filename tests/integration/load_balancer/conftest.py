"""Run the load balancer in-process on a real loopback port, served as ``python -m`` serves it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from load_balancer.app import create_app
from load_balancer.server import uvicorn_config
from load_balancer.settings import BalancerSettings
from tests.support.live import free_port


@dataclass
class Balancer:
    """A running balancer: its URL and a client bound to it."""

    url: str
    client: httpx.Client
    settings: BalancerSettings

    def status(self) -> dict[str, Any]:
        """Return ``GET /_lb/status``."""
        response = self.client.get("/_lb/status")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def backend(self, url: str) -> dict[str, Any]:
        """Return one backend's entry of the status."""
        for entry in self.status()["backends"]:
            if entry["url"] == url:
                return entry
        raise AssertionError(f"{url} is not in the status")


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@contextmanager
def running_balancer(backends: list[str], **overrides: Any) -> Iterator[Balancer]:
    """Serve a balancer in front of ``backends`` with uvicorn in a thread."""
    options: dict[str, Any] = {
        "port": free_port(),
        "backends": backends,
        "health_interval": 0.2,
        "health_timeout": 1.0,
        "health_rise": 2,
        "health_fall": 2,
        "shutdown_timeout": 5,
        **overrides,
    }
    settings = BalancerSettings(**options)
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the balancer did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{settings.port}"
    try:
        with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
            yield Balancer(url, client, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def balancer_factory() -> Callable[..., Any]:
    """Return :func:`running_balancer` (a context manager factory)."""
    return running_balancer
