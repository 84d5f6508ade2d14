"""Run one service as a process: ``python -m <service>`` calls :func:`run_service`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from services.logging_setup import configure_logging
from services.private_files import private_process
from services.serving import LeanHttpProtocol
from services.settings import ServiceSettings

__all__ = ["run_service", "uvicorn_options"]


S = TypeVar("S", bound=ServiceSettings)


def uvicorn_options(*, graceful_seconds: int = 10) -> dict[str, Any]:
    """Return the uvicorn options every mcsim HTTP process runs with (besides host and port)."""
    return {
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": graceful_seconds,
        # X-Forwarded-* are believed only where mcsim says so (MCSIM_EXEC_TRUSTED_PROXIES), not
        # from every local peer as uvicorn's proxy-headers middleware would (it also cost ~2 %
        # of a SOAP call's CPU).
        "proxy_headers": False,
        # mcsim's own HTTP/1.1 protocol: about a tenth less CPU per small SOAP call.
        "http": LeanHttpProtocol,
        "ws": "none",
    }


def run_service(
    settings_class: type[S],
    create_app: Callable[[S], FastAPI],
    *,
    instance: Callable[[S], str | None] | None = None,
    serve: Callable[[S], int] | None = None,
) -> None:
    """Read the settings from the environment, configure logging and serve the app.

    ``serve`` runs the service instead of one uvicorn process (several processes, say); it
    returns the exit code. The service's migrations run in a short-lived child process
    (:attr:`services.db.Database.migrate_apart`).
    """
    private_process()  # databases, logs and keys are for this user only
    from services.db import Database

    # Migrations run in a short-lived child: this long-lived process never imports Alembic.
    Database.migrate_apart = True
    try:
        settings = settings_class()
    except ValidationError as exc:
        prefix = settings_class.model_config.get("env_prefix", "")
        print(f"{settings_class.service_name}: invalid settings ({prefix}*):", file=sys.stderr)
        for error in exc.errors():
            name = prefix + "_".join(str(part) for part in error["loc"]).upper()
            print(f"  {name}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(
        service=settings.service_name,
        level=settings.log_level,
        fmt=settings.log_format.value,
        instance=instance(settings) if instance else None,
    )
    if serve is not None:
        raise SystemExit(serve(settings))
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, **uvicorn_options())
