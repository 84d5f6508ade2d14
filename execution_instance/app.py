"""The execution instance's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from execution_instance.routes import ping, wsdl
from execution_instance.settings import ExecutionSettings
from services.app_factory import new_service_app

__all__ = ["create_app"]


def create_app(
    settings: ExecutionSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build an execution instance; nothing starts until the app's lifespan runs."""
    settings = settings or ExecutionSettings()
    app = new_service_app(
        settings,
        title="mcsim execution instance",
        description="Receives transactional events over SOAP and REST (Campaign Message Center).",
        migrations="execution_instance:migrations",
        http_client=http_client,
        instance_id=lambda _app: settings.instance_id,
    )
    app.include_router(ping.router)
    app.include_router(wsdl.router)
    return app
