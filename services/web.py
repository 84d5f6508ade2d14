"""What every mcsim FastAPI app shares: error translation, request logging and the health answer."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import McsimError
from services.logging_setup import RequestLogMiddleware

__all__ = ["HealthReport", "error_response", "install_common"]

log = logging.getLogger("mcsim.errors")


class HealthReport(BaseModel):
    """The answer of ``GET /health`` on every service."""

    status: str
    service: str
    instance_id: int | None = None
    version: str
    database: str
    uptime_s: float


def error_response(exc: McsimError) -> JSONResponse:
    """Return the one JSON error shape for ``exc``."""
    return JSONResponse(exc.to_json(), status_code=exc.status_code)


async def _on_mcsim_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, McsimError)
    if exc.status_code >= 500:
        log.warning("request failed: %s", exc.message, extra={"error": exc.error})
    return error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    first_field: str | None = None
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        first_field = first_field or location or None
        problems.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    body = {
        "error": "invalid_request",
        "message": "the request is invalid",
        "detail": "; ".join(problems),
    }
    if first_field:
        body["field"] = first_field
    return JSONResponse(body, status_code=400)


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    names = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
    body = {"error": names.get(exc.status_code, "http_error"), "message": str(exc.detail)}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_common(app: FastAPI) -> None:
    """Add the error handlers and the request-logging middleware to ``app``."""
    app.add_exception_handler(McsimError, _on_mcsim_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_middleware(RequestLogMiddleware)
    app.state.started_at = time.monotonic()
