"""The load balancer's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from starlette.responses import Response

from load_balancer.proxy import Proxy
from load_balancer.settings import BalancerSettings
from services.app_factory import new_service_app
from services.http import create_http_client

__all__ = ["create_app"]

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_app(
    settings: BalancerSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build the load balancer; nothing starts until the app's lifespan runs."""
    settings = settings or BalancerSettings()

    @asynccontextmanager
    async def start_proxy(app: FastAPI) -> AsyncIterator[None]:
        app.state.proxy = Proxy(settings.backends, app.state.http)
        yield

    app = new_service_app(
        settings,
        title="mcsim load balancer",
        description="Round-robin reverse proxy in front of the execution instances.",
        migrations=None,
        http_client=http_client,
        hook=start_proxy,
        client_factory=lambda: create_http_client(
            timeout=settings.read_timeout, connect_timeout=settings.connect_timeout
        ),
    )

    @app.api_route("/{path:path}", methods=_METHODS, include_in_schema=False)
    async def forward(request: Request) -> Response:
        """Forward every other request to an execution instance."""
        proxy: Proxy = request.app.state.proxy
        return await proxy.forward(request)

    return app
