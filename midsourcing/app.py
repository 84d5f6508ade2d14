"""The mid-sourcing server's FastAPI app: ``create_app(settings)``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from midsourcing.routes import wsdl
from midsourcing.settings import MidSettings
from services.app_factory import new_service_app

__all__ = ["create_app"]


def create_app(
    settings: MidSettings | None = None, *, http_client: httpx.AsyncClient | None = None
) -> FastAPI:
    """Build the mid-sourcing server; nothing starts until the app's lifespan runs."""
    settings = settings or MidSettings()
    app = new_service_app(
        settings,
        title="mcsim mid-sourcing server",
        description="Delivers email, SMS and push, qualifies bounces and keeps quarantine.",
        migrations="midsourcing:migrations",
        http_client=http_client,
    )
    app.include_router(wsdl.router)
    return app
