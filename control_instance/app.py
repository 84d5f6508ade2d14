"""The control instance's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from control_instance.demo import publish_demo_event_types
from control_instance.settings import ControlSettings
from services.app_factory import new_service_app

__all__ = ["create_app"]


def create_app(
    settings: ControlSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build the control instance; nothing starts until the app's lifespan runs."""
    settings = settings or ControlSettings()

    @asynccontextmanager
    async def run_control(app: FastAPI) -> AsyncIterator[None]:
        if settings.demo and settings.execution_urls:
            await publish_demo_event_types(
                app.state.http,
                execution_urls=settings.execution_urls,
                login=settings.execution_login,
                password=settings.execution_password or "",
            )
        yield

    return new_service_app(
        settings,
        title="mcsim control instance",
        description="Authors, previews, publishes and monitors transactional templates.",
        migrations="control_instance:migrations",
        http_client=http_client,
        hook=run_control,
    )
