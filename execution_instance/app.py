"""The execution instance's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from execution_instance.routes import controlplane, ping, redir, rest, soap, stats, wsdl
from execution_instance.settings import ExecutionSettings
from execution_instance.state import ExecutionState
from services.app_factory import new_service_app
from services.fastpath import install_fast_path

__all__ = ["REFRESH_SECONDS", "create_app"]

log = logging.getLogger("mcsim.execution")

#: How often the in-memory caches are re-read from the database.
REFRESH_SECONDS = 1.0


async def _keep_fresh(state: ExecutionState) -> None:
    """Re-read what requests serve from memory (event types, operators, tokens, queue depth)."""
    while True:
        await asyncio.sleep(REFRESH_SECONDS)
        try:
            await run_in_threadpool(state.refresh)
        except Exception:  # the database is down: keep serving what is known, retry
            log.warning("cannot refresh the caches from the database", exc_info=True)


def _running_id(app: FastAPI) -> int | None:
    """Return the instance id the running instance uses (None before its start-up)."""
    state: ExecutionState | None = getattr(app.state, "execution", None)
    return state.identity.value if state is not None else None


def create_app(
    settings: ExecutionSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build an execution instance; nothing starts until the app's lifespan runs."""
    settings = settings or ExecutionSettings()

    @asynccontextmanager
    async def run_instance(app: FastAPI) -> AsyncIterator[None]:
        state = ExecutionState.build(settings, app.state.db, app.state.http)
        await run_in_threadpool(
            state.security.seed,
            operators=settings.operators,
            technical_tokens=settings.technical_tokens,
        )
        if settings.event_types:
            await run_in_threadpool(
                state.intake.add_event_types, [(name, name) for name in settings.event_types]
            )
        await run_in_threadpool(state.refresh)
        await run_in_threadpool(state.processor.load_epoch)
        await state.writer.start()
        state.processor.start()
        refresher = asyncio.create_task(_keep_fresh(state), name="refresh-caches")
        app.state.execution = state
        try:
            yield
        finally:
            refresher.cancel()
            await asyncio.wait([refresher])  # its thread may hold a connection: let it finish
            await state.processor.stop()
            await state.writer.stop()

    app = new_service_app(
        settings,
        title="mcsim execution instance",
        description="Receives transactional events over SOAP and REST (Campaign Message Center).",
        migrations="execution_instance:migrations",
        http_client=http_client,
        hook=run_instance,
        instance_id=_running_id,
    )
    app.include_router(ping.router)
    app.include_router(redir.router)
    app.include_router(wsdl.router)
    app.include_router(soap.router)
    # The SOAP router also gets a fast path ahead of FastAPI's per-request machinery.
    install_fast_path(app, method="POST", path=soap.ROUTER_PATH, endpoint=soap.soap_router)
    app.include_router(controlplane.router)
    app.include_router(stats.router)
    app.include_router(rest.router)
    return app
