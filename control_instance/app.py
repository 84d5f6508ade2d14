"""The control instance's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.service import register_from_settings
from control_instance.archive.loop import Archiver
from control_instance.auth.service import ensure_admin
from control_instance.console import install_console
from control_instance.demo import create_demo_workspace
from control_instance.routes import (
    accounts,
    auth,
    cell,
    clock,
    event_types,
    events,
    ims,
    monitoring,
    operators,
    packages,
    reports,
    reset,
    seeds,
    soap,
    technical_accounts,
    templates,
)
from control_instance.settings import ControlSettings
from control_instance.state import ControlState
from services.app_factory import new_service_app
from services.fastpath import install_fast_path

__all__ = ["create_app"]


def create_app(
    settings: ControlSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build the control instance; nothing starts until the app's lifespan runs."""
    settings = settings or ControlSettings()

    @asynccontextmanager
    async def run_control(app: FastAPI) -> AsyncIterator[None]:
        state = ControlState.build(settings, app.state.db, app.state.http)
        app.state.control = state
        await run_in_threadpool(lambda: ensure_admin(db=state.db, password=settings.admin_password))
        await register_from_settings(state=state)
        if settings.demo:
            await create_demo_workspace(state=state)
        archiver = Archiver(state)
        archiver.start()
        try:
            yield
        finally:
            await archiver.stop()

    app = new_service_app(
        settings,
        title="mcsim control instance",
        description="Authors, previews, publishes and monitors transactional templates. "
        "Authenticate with a bearer token from POST /api/v1/auth/login.",
        migrations="control_instance:migrations",
        http_client=http_client,
        hook=run_control,
    )
    for router in (
        auth.router,
        operators.router,
        accounts.router,
        cell.router,
        technical_accounts.router,
        technical_accounts.keys_router,
        ims.router,
        event_types.router,
        templates.router,
        seeds.router,
        events.router,
        monitoring.router,
        reports.router,
        packages.router,
        reset.router,
        clock.router,
        soap.router,
    ):
        app.include_router(router)
    # Ahead of the console's and the API's machinery: SOAP callers authenticate as Campaign's.
    install_fast_path(app, method="POST", path=soap.ROUTER_PATH, endpoint=soap.soap_router)
    install_console(app)
    return app
