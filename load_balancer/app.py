"""The load balancer's FastAPI app: ``create_app(settings)``.

The balancer's own routes (``/health``, ``/metrics``, ``/_lb/...``) are FastAPI routes. Every
other request goes straight to the data path (:mod:`load_balancer.proxy`), an ASGI layer in
front of FastAPI's routing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from load_balancer.balancer import Balancer
from load_balancer.deps import Runtime
from load_balancer.health import HealthChecker
from load_balancer.proxy import Proxy, Sender
from load_balancer.routes import admin, status
from load_balancer.settings import BalancerSettings
from load_balancer.shared import SharedState
from services.app_factory import new_service_app
from services.errors import NoBackendAvailable, NotFound
from services.hosts import HostAllowList
from services.http import create_http_client
from services.pool_transport import PoolTransport
from services.web import error_response

__all__ = ["create_app", "front_door", "health_checker", "seed_backends"]

log = logging.getLogger("mcsim.lb")

#: Paths the balancer answers itself; everything else is forwarded.
_OWN_PREFIX = "/_lb/"
_OWN_PATHS = frozenset({"/health", "/metrics"})
#: The execution instances' control plane is for the control instance, which calls each
#: instance directly: the public entry of the cell never forwards it (security review F1).
_CONTROL_PLANE = "/_mc"
_CONTROL_PLANE_PREFIX = _CONTROL_PLANE + "/"
_NOT_FORWARDED = NotFound(
    "the control-plane API (/_mc/) is not served through the load balancer",
    detail="the control instance calls each execution instance's /_mc/ directly",
)


class _ProxyLayer:
    """Send every request that is not the balancer's own to the data path.

    It sits inside the FastAPI app (so the app works under any ASGI server), and ``python -m
    load_balancer`` also puts it in front of the app (:func:`front_door`): there a forwarded
    request skips FastAPI's own middleware stack.
    """

    def __init__(self, app: ASGIApp, *, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime
        # Forwarded requests skip FastAPI (and its host check): check the host here too (F9).
        self.hosts = HostAllowList.for_settings(runtime.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward, or hand the request to FastAPI."""
        if scope["type"] == "http":
            path: str = scope["path"]
            if path not in _OWN_PATHS and not path.startswith(_OWN_PREFIX):
                refused = self.hosts.refusal(scope)
                if refused is not None:
                    await refused(scope, receive, send)
                    return
                if path == _CONTROL_PLANE or path.startswith(_CONTROL_PLANE_PREFIX):
                    await error_response(_NOT_FORWARDED)(scope, receive, send)
                    return
                proxy = self.runtime.proxy
                if proxy is None:
                    response = error_response(NoBackendAvailable("the load balancer is stopping"))
                    await response(scope, receive, send)
                    return
                await proxy.handle(scope, receive, send)
                return
        await self.app(scope, receive, send)


def seed_backends(shared: SharedState, settings: BalancerSettings) -> None:
    """Put the configured backends into an empty table."""
    for url in settings.backends:
        shared.add(url)


def health_checker(
    shared: SharedState, settings: BalancerSettings, client: httpx.AsyncClient
) -> HealthChecker:
    """Return the health checker the settings describe."""
    return HealthChecker(
        shared,
        client,
        interval=settings.health_interval,
        timeout=settings.health_timeout,
        rise=settings.health_rise,
        fall=settings.health_fall,
    )


def create_app(
    settings: BalancerSettings | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
    shared: SharedState | None = None,
    worker: int = 0,
    check_health: bool = True,
) -> FastAPI:
    """Build the load balancer; nothing starts until the app's lifespan runs.

    ``http_client`` replaces the data path's transport and the health checker's client (tests).
    A worker of a multi-process balancer gets the ``shared`` state its master made, its
    ``worker`` number, and ``check_health=False``: one separate process checks the backends.
    """
    settings = settings or BalancerSettings()
    runtime = Runtime(settings)

    @asynccontextmanager
    async def run_balancer(app: FastAPI) -> AsyncIterator[None]:
        state = shared
        if state is None:
            state = SharedState.create(1)
            seed_backends(state, settings)
        state.reset_worker(worker, os.getpid())
        transport: PoolTransport | None = None
        sender: Sender
        if http_client is None:
            transport = PoolTransport(
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
                idle_seconds=settings.keepalive_seconds,
            )
            sender = transport.handle_async_request
        else:
            sender = functools.partial(http_client.send, stream=True)
        checks: asyncio.Task[None] | None = None
        if check_health:
            checker = health_checker(state, settings, app.state.http)
            # The first round decides every backend's state before the first request.
            await checker.check_all()
            checks = asyncio.create_task(checker.run(), name="lb-health-checks")
        runtime.shared = state
        runtime.proxy = Proxy(
            balancer=Balancer(state, worker=worker),
            shared=state,
            sender=sender,
            worker=worker,
            max_body_bytes=settings.max_body_bytes,
            full_urls=http_client is not None,
            access_log=settings.access_log,
            proxy_secret=settings.proxy_secret,
        )
        try:
            yield
        finally:
            runtime.proxy = None
            if checks is not None:
                checks.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checks
            if transport is not None:
                await transport.aclose()

    app = new_service_app(
        settings,
        title="mcsim load balancer",
        description="Round-robin reverse proxy in front of the execution instances.",
        migrations=None,
        http_client=http_client,
        hook=run_balancer,
        client_factory=lambda: create_http_client(
            timeout=settings.health_timeout, connect_timeout=settings.health_timeout
        ),
    )
    app.state.lb = runtime
    app.include_router(status.router)
    app.include_router(admin.router)
    app.add_middleware(_ProxyLayer, runtime=runtime)
    return app


def front_door(app: FastAPI) -> ASGIApp:
    """Return the ASGI app to serve: the data path in front of the balancer's FastAPI app."""
    runtime: Runtime = app.state.lb
    return _ProxyLayer(app, runtime=runtime)
