"""The execution instance's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from execution_instance.routes import controlplane, ping, rest, soap, wsdl
from execution_instance.settings import ExecutionSettings
from execution_instance.state import ExecutionState
from services.app_factory import new_service_app

__all__ = ["create_app"]


def create_app(
    settings: ExecutionSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build an execution instance; nothing starts until the app's lifespan runs."""
    settings = settings or ExecutionSettings()

    @asynccontextmanager
    async def run_instance(app: FastAPI) -> AsyncIterator[None]:
        state = ExecutionState.build(settings, app.state.db)
        await run_in_threadpool(
            state.security.seed,
            operators=settings.operators,
            technical_tokens=settings.technical_tokens,
        )
        if settings.event_types:
            await run_in_threadpool(
                state.intake.add_event_types, [(name, name) for name in settings.event_types]
            )
        await state.writer.start()
        app.state.execution = state
        try:
            yield
        finally:
            await state.writer.stop()

    app = new_service_app(
        settings,
        title="mcsim execution instance",
        description="Receives transactional events over SOAP and REST (Campaign Message Center).",
        migrations="execution_instance:migrations",
        http_client=http_client,
        hook=run_instance,
        instance_id=lambda _app: settings.instance_id,
    )
    app.include_router(ping.router)
    app.include_router(wsdl.router)
    app.include_router(soap.router)
    app.include_router(controlplane.router)
    app.include_router(rest.router)
    return app
