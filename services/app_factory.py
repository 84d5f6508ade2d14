"""Build a service's FastAPI app: lifespan with database and HTTP client, errors, health.

Each service's ``create_app`` calls :func:`new_service_app` and then adds its own routers. The
lifespan opens the database (migrating it to the newest revision), creates the outbound
``httpx.AsyncClient`` unless one was injected, runs the service's own start-up hook, and undoes
all of it on shutdown.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TYPE_CHECKING

import httpx
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from services.clock import clock, load_offset
from services.fastpath import FastPathApp
from services.http import create_http_client
from services.settings import ServiceSettings
from services.version import VERSION
from services.web import HealthReport, ProcessReport, install_common, install_docs

if TYPE_CHECKING:
    # Imported when a service opens its database: the load balancer has none, and SQLAlchemy
    # with Alembic is about a third of its memory.
    from services.db import Database

__all__ = ["ServiceHook", "new_service_app"]

log = logging.getLogger("mcsim.app")

#: A service's own start-up work; it gets the app once the database and client are ready.
ServiceHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def new_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    migrations: str | None,
    upgrade: bool = True,
    http_client: httpx.AsyncClient | None = None,
    hook: ServiceHook | None = None,
    instance_id: Callable[[FastAPI], int | None] | None = None,
    processes: Callable[[FastAPI], list[tuple[str, int]] | None] | None = None,
    client_factory: Callable[[], httpx.AsyncClient] = create_http_client,
) -> FastAPI:
    """Return a FastAPI app with mcsim's lifespan, error handling, logging and ``/health``.

    ``upgrade=False``: the database is opened as it is (a master process migrated it before it
    forked this one). ``processes`` gives the role and pid of the service's processes for
    ``/health`` when it runs as several.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db: Database | None = None
        if migrations is not None:
            from services.database_wait import open_when_reachable, stop_on_signals
            from services.db import Database

            db = Database(settings.resolved_database_url(), schema=settings.database_schema)
            if upgrade:
                try:
                    # PostgreSQL down at start-up: wait for it, answering 503 meanwhile.
                    with stop_on_signals() as stop:
                        revision = await run_in_threadpool(
                            open_when_reachable,
                            db,
                            functools.partial(db.upgrade, migrations),
                            host=settings.host,
                            port=settings.port,
                            service=settings.service_name,
                            stop=stop,
                        )
                except BaseException:
                    db.dispose()
                    raise
                log.info(
                    "database ready",
                    extra={"database": db.describe(), "revision": revision},
                )
            # The virtual clock a test stack moved survives the service's restart (issue 16).
            try:
                await run_in_threadpool(load_offset, db, environment=settings.environment)
            except Exception:  # the database is down: real time until it is read again
                log.warning("cannot read the virtual clock from the database", exc_info=True)
        client = http_client or client_factory()
        app.state.db = db
        app.state.http = client
        try:
            async with hook(app) if hook else nullcontext():
                log.info(
                    "%s started", settings.service_name, extra={"url": settings.resolved_public_url}
                )
                yield
        finally:
            if http_client is None:
                await client.aclose()
            if db is not None:
                db.dispose()
            log.info("%s stopped", settings.service_name)

    app = FastPathApp(
        title=title,
        description=description,
        version=VERSION,
        lifespan=lifespan,
        # /docs is served from the vendored Swagger UI (install_docs); ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    install_common(app)
    install_docs(app)
    app.include_router(_health_router(settings, instance_id, processes))
    return app


def _health_router(
    settings: ServiceSettings,
    instance_id: Callable[[FastAPI], int | None] | None,
    processes: Callable[[FastAPI], list[tuple[str, int]] | None] | None,
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=HealthReport)
    async def health(request: Request, response: Response) -> HealthReport:
        """Report the service, its instance id, version and whether its database answers."""
        db: Database | None = request.app.state.db
        if db is None:
            database = "none"
        else:
            database = "ok" if await run_in_threadpool(db.ping) else "unreachable"
        healthy = database != "unreachable"
        listed = processes(request.app) if processes is not None else None
        if not healthy:
            response.status_code = 503
        return HealthReport(
            status="ok" if healthy else "degraded",
            service=settings.service_name,
            instance_id=instance_id(request.app) if instance_id else None,
            version=VERSION,
            database=database,
            uptime_s=round(time.monotonic() - request.app.state.started_at, 3),
            processes=[ProcessReport(role=r, pid=p) for r, p in listed] if listed else None,
            clock_offset_s=None if db is None else clock.offset.total_seconds(),
        )

    return router
