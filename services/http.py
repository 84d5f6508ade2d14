"""Outbound HTTP: one factory for the ``httpx.AsyncClient`` every service uses.

``http://`` calls go through :class:`~services.pool_transport.PoolTransport` (a keep-alive pool
on asyncio protocols: a fraction of httpcore's CPU per call, which the execution instance pays
on every delivery part and status read); ``https://`` calls through httpx's own transport.
The transport is the test seam: tests pass ``httpx.ASGITransport`` or ``httpx.MockTransport``
(or point the client at a real loopback server) instead of monkeypatching.
"""

from __future__ import annotations

import httpx

from services.pool_transport import PoolTransport

__all__ = ["create_http_client"]


def create_http_client(
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    base_url: str = "",
    timeout: float = 10.0,
    connect_timeout: float = 3.0,
    max_connections: int = 100,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """Return an AsyncClient with mcsim's timeouts and pool limits."""
    mounts = (
        None
        if transport is not None
        else {
            "http://": PoolTransport(
                connect_timeout=connect_timeout,
                read_timeout=timeout,
                max_idle_per_origin=max_connections,
            )
        }
    )
    return httpx.AsyncClient(
        transport=transport,
        mounts=mounts,
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        headers={"user-agent": "mcsim", **(headers or {})},
        follow_redirects=False,
    )
