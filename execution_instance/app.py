"""The execution instance's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from execution_instance.processes import ProcessContext
from execution_instance.routes import controlplane, ping, redir, rest, soap, stats, wsdl
from execution_instance.settings import ExecutionSettings
from execution_instance.state import ExecutionState, prepare_instance
from services.app_factory import new_service_app
from services.fastpath import install_fast_path

__all__ = ["REFRESH_SECONDS", "create_app", "running"]

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


def _processes(app: FastAPI) -> list[tuple[str, int]] | None:
    """Return the role and pid of each process of the instance (None when it is one process)."""
    state: ExecutionState | None = getattr(app.state, "execution", None)
    return state.shared.processes() if state is not None else None


@asynccontextmanager
async def running(
    state: ExecutionState, *, intake: bool, processing: bool, sync: bool = True
) -> AsyncIterator[None]:
    """Run what a process of the instance runs: its caches' refresh, and the event writer
    (``intake``) or the processing workers (``processing``; ``sync``: the status sync too)."""
    await run_in_threadpool(state.refresh)
    if processing:
        await run_in_threadpool(state.processor.load_epoch)
        state.processor.before_claim = state.catch_up
    if intake:
        await state.writer.start()
    if processing:
        state.processor.start(sync=sync)
    refresher = asyncio.create_task(_keep_fresh(state), name="refresh-caches")
    try:
        yield
    finally:
        refresher.cancel()
        await asyncio.wait([refresher])  # its thread may hold a connection: let it finish
        if processing:
            await state.processor.stop()
        if intake:
            await state.writer.stop()


def create_app(
    settings: ExecutionSettings | None = None,
    *,
    http_client: httpx.AsyncClient | None = None,
    process: ProcessContext | None = None,
) -> FastAPI:
    """Build an execution instance; nothing starts until the app's lifespan runs.

    Without ``process`` the app is the whole instance: it prepares the database, takes events
    and processes them. With a web ``process`` (:mod:`execution_instance.server`) it only serves
    HTTP; the master prepared the database and processing processes take the events.
    """
    settings = settings or ExecutionSettings()
    whole = process is None

    @asynccontextmanager
    async def run_instance(app: FastAPI) -> AsyncIterator[None]:
        if whole:
            await run_in_threadpool(prepare_instance, settings, app.state.db)
        state = ExecutionState.build(
            settings,
            app.state.db,
            app.state.http,
            shared=process.shared if process else None,
            wakeup=process.wakeup.notify if process else None,
        )
        async with running(state, intake=True, processing=whole):
            app.state.execution = state
            yield

    app = new_service_app(
        settings,
        title="mcsim execution instance",
        description="Receives transactional events over SOAP and REST (Campaign Message Center).",
        migrations="execution_instance:migrations",
        upgrade=whole,
        http_client=http_client,
        hook=run_instance,
        instance_id=_running_id,
        processes=_processes,
    )
    app.include_router(ping.router)
    app.include_router(redir.router)
    app.include_router(wsdl.router)
    app.include_router(soap.router)
    # The SOAP router and the REST POST also get a fast path ahead of FastAPI's per-request
    # machinery.
    install_fast_path(app, method="POST", path=soap.ROUTER_PATH, endpoint=soap.soap_router)
    app.include_router(controlplane.router)
    app.include_router(stats.router)
    app.include_router(rest.router)
    install_fast_path(
        app, method="POST", pattern=rest.EVENT_PATH_PATTERN, endpoint=rest.post_event_fast
    )
    return app
