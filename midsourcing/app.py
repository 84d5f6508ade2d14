"""The mid-sourcing server's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from midsourcing.housekeeping import Retention, keep_tidy
from midsourcing.mailbox import install_mailbox
from midsourcing.routes import chaos, clock, messages, quarantine, reset, soap, wsdl
from midsourcing.settings import MidSettings
from midsourcing.state import MidState
from services.app_factory import new_service_app
from services.fastpath import install_fast_path

__all__ = ["create_app"]


def create_app(
    settings: MidSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build the mid-sourcing server; nothing starts until the app's lifespan runs."""
    settings = settings or MidSettings()

    @asynccontextmanager
    async def run_server(app: FastAPI) -> AsyncIterator[None]:
        """Start the workers and housekeeping; on shutdown, stop them and close the relay."""
        state = MidState.build(settings, app.state.db, app.state.http)
        await run_in_threadpool(state.security.set_operators, settings.operators)
        await state.dispatcher.start()
        tidy = asyncio.create_task(
            keep_tidy(state.db, Retention.from_settings(settings), settings.housekeeping_seconds),
            name="mid-housekeeping",
        )
        app.state.mid = state
        try:
            yield
        finally:
            tidy.cancel()
            await asyncio.gather(tidy, return_exceptions=True)
            await state.dispatcher.stop()
            if state.relay is not None:
                await state.relay.close()

    app = new_service_app(
        settings,
        title="mcsim mid-sourcing server",
        description="Delivers email, SMS and push, qualifies bounces, keeps quarantine and "
        "delivery logs, and shows every captured message.",
        migrations="midsourcing:migrations",
        http_client=http_client,
        hook=run_server,
    )
    app.include_router(wsdl.router)
    app.include_router(soap.router)
    # Delivery parts and log reads skip FastAPI's per-request machinery (same request id and log).
    install_fast_path(app, method="POST", path=soap.ROUTER_PATH, endpoint=soap.soap_router)
    app.include_router(messages.router)
    app.include_router(quarantine.router)
    app.include_router(chaos.router)
    app.include_router(reset.router)
    app.include_router(clock.router)
    install_mailbox(app)
    return app
