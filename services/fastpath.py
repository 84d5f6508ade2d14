"""A short way in for one hot route: ahead of FastAPI's middleware, routing and dependencies.

The SOAP router answers thousands of calls a second and needs none of what FastAPI adds per
request (the endpoint reads everything from ``request.app.state``). :func:`install_fast_path`
puts the route in front of the app's whole middleware stack (error, telemetry and body-limit
middleware, request logging, routing), so it does here what those would have done for it: it
gives the call its request id (``X-Request-Id``, kept when the caller sends one), logs the same
request line as :class:`~services.logging_setup.RequestLogMiddleware`, and answers a bare 500
(logged with its traceback) when the endpoint fails unexpectedly.

A successful call is logged at DEBUG, not INFO: at thousands of calls a second the line cost a
fifth of a call's CPU and buried everything else in the log. Refused and failed calls (status
400 and above) are logged at INFO as on every other route; the DEBUG log level shows them all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.logging_setup import log_request, new_request_id, request_id

__all__ = ["FastPath", "install_fast_path"]

Endpoint = Callable[[Request], Awaitable[Response]]

log = logging.getLogger("mcsim.http")


class FastPath:
    """Serve ``method path`` with ``endpoint`` directly; pass every other request on."""

    def __init__(self, app: ASGIApp, *, method: str, path: str, endpoint: Endpoint) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the hot route here, anything else through the app."""
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != self.method:
            await self.app(scope, receive, send)
            return
        rid = new_request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            try:
                response = await self.endpoint(Request(scope, receive))
            except Exception:
                log.exception("unexpected error serving %s %s", self.method, self.path)
                response = PlainTextResponse("Internal Server Error", status_code=500)
            status = response.status_code
            response.raw_headers.append((b"x-request-id", rid.encode("latin-1")))
            await response(scope, receive, send)
        finally:
            level = logging.DEBUG if status < 400 else logging.INFO
            log_request(log, scope, status, started, level=level)
            request_id.reset(token)


def install_fast_path(app: Starlette, *, method: str, path: str, endpoint: Endpoint) -> None:
    """Serve ``method path`` with ``endpoint`` in front of ``app``'s whole middleware stack.

    Starlette builds the stack on the first request (or the lifespan); the fast path wraps what
    it builds, so middleware and handlers added to ``app`` later still apply to other routes.
    """
    build = app.build_middleware_stack

    def build_with_fast_path() -> ASGIApp:
        return FastPath(build(), method=method, path=path, endpoint=endpoint)

    app.build_middleware_stack = build_with_fast_path  # type: ignore[method-assign]
