"""Outbound HTTP: one factory for the ``httpx.AsyncClient`` every service uses.

The transport is the test seam: tests pass ``httpx.ASGITransport`` or ``httpx.MockTransport``
(or point the client at a real loopback server) instead of monkeypatching.
"""

from __future__ import annotations

import httpx

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
    return httpx.AsyncClient(
        transport=transport,
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        headers={"user-agent": "mcsim", **(headers or {})},
        follow_redirects=False,
    )
