"""What every mcsim FastAPI app shares: error translation, request logging and the health answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.errors import InvalidRequest, McsimError, NotFound
from services.logging_setup import RequestLogMiddleware
from services.ui import STATIC_DIR, wants_html

__all__ = [
    "HealthReport",
    "HtmlErrors",
    "ProcessReport",
    "answer_error",
    "error_response",
    "install_common",
    "install_docs",
]

log = logging.getLogger("mcsim.errors")


class ProcessReport(BaseModel):
    """One process of a service that runs as several."""

    role: str
    pid: int


class HealthReport(BaseModel):
    """The answer of ``GET /health`` on every service."""

    status: str
    service: str
    instance_id: int | None = None
    version: str
    database: str
    uptime_s: float
    processes: list[ProcessReport] | None = None
    #: How far ahead of real time the service's virtual clock runs (tests; 0: real time).
    #: None for a service without time-dependent state (the load balancer).
    clock_offset_s: float | None = None


def error_response(exc: McsimError) -> JSONResponse:
    """Return the one JSON error shape for ``exc``."""
    return JSONResponse(exc.to_json(), status_code=exc.status_code)


#: Set on ``app.state.html_errors`` by a service with web pages: answers an error to a browser.
HtmlErrors = Callable[[Request, McsimError], Response]


def _html_answer(request: Request, exc: McsimError) -> Response | None:
    hook: HtmlErrors | None = getattr(request.app.state, "html_errors", None)
    if hook is not None and wants_html(request):
        return hook(request, exc)
    return None


def answer_error(request: Request, exc: McsimError) -> Response:
    """Answer ``exc`` as every route does: the error page to a browser, else the JSON shape
    (a fast path's endpoint calls this itself: FastAPI's handlers are not on its way)."""
    if exc.status_code >= 500:
        log.warning("request failed: %s", exc.message, extra={"error": exc.error})
    return _html_answer(request, exc) or error_response(exc)


async def _on_mcsim_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, McsimError)
    return answer_error(request, exc)


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    first_field: str | None = None
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        first_field = first_field or location or None
        problems.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    invalid = InvalidRequest(
        "the request is invalid", detail="; ".join(problems), field=first_field
    )
    return _html_answer(request, invalid) or error_response(invalid)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        html = _html_answer(request, NotFound(f"there is no page at {request.url.path}"))
        if html is not None:
            return html
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


#: Swagger UI, vendored from npm's swagger-ui-dist (FastAPI's /docs loads it from a CDN, which
#: leaves the page blank without internet): served by every service under this path.
SWAGGER_UI_DIR = STATIC_DIR / "vendor" / "swagger_ui"  # version.txt: 5.36.0
SWAGGER_UI_PATH = "/_mcsim/swagger-ui"


def install_docs(app: FastAPI) -> None:
    """Serve the interactive API documentation at ``/docs`` from the vendored Swagger UI.

    The app must be created with ``docs_url=None`` (FastAPI's own page) and ``redoc_url=None``
    (ReDoc is not vendored).
    """
    app.mount(SWAGGER_UI_PATH, StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - API",
            swagger_js_url=f"{SWAGGER_UI_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_UI_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_UI_PATH}/favicon-32x32.png",
        )
