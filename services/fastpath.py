"""A short way in for one hot route: ahead of FastAPI's middleware, routing and dependencies.

The SOAP routers answer thousands of calls a second and need none of what FastAPI adds per
request (the endpoint reads everything from ``request.app.state``). :func:`install_fast_path`
puts the route in front of everything FastAPI does per request (its telemetry check, the
error, telemetry and body-limit middleware, request logging, routing), so it does here what
those would have done for it: it gives the call its request id (``X-Request-Id``, kept when the
caller sends one), logs the same request line as
:class:`~services.logging_setup.RequestLogMiddleware`, and answers a bare 500 (logged with its
traceback) when the endpoint fails unexpectedly.

A hot route with parameters in its path (the REST API's ``POST /{org}/campaign/{api}/{eventID}``)
is given as a regular expression whose named groups become ``request.path_params``; it must match
exactly the requests FastAPI would route to the same endpoint.

A successful call is logged at DEBUG, not INFO: at thousands of calls a second the line cost a
fifth of a call's CPU and buried everything else in the log. Refused and failed calls (status
400 and above) are logged at INFO as on every other route; the DEBUG log level shows them all.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from services.hosts import HostAllowList
from services.logging_setup import log_request, new_request_id, request_id

__all__ = ["FastPath", "FastPathApp", "install_fast_path"]

Endpoint = Callable[[Request], Awaitable[Response]]

log = logging.getLogger("mcsim.http")


class _IndexedHeaders(Headers):
    """Request headers looked up in a dict built once (Starlette scans the list each time)."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        index: dict[str, str] = {}
        for key, value in reversed(self._list):  # the first of repeated headers wins, as before
            index[key.decode("latin-1")] = value.decode("latin-1")
        self._index = index

    def __getitem__(self, key: str) -> str:
        try:
            return self._index[key.lower()]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        """Return the first value of header ``key`` (any case), or ``default``."""
        return self._index.get(key.lower(), default)

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._index


class _FastRequest(Request):
    @property
    def headers(self) -> Headers:
        if not hasattr(self, "_headers"):
            self._headers = _IndexedHeaders(self.scope)
        return self._headers


class FastPath:
    """Serve one hot route: request id, the endpoint, a bare 500 on failure, the log line."""

    def __init__(self, *, method: str, path: str, endpoint: Endpoint) -> None:
        self.method = method
        self.path = path
        self.endpoint = endpoint

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request of the hot route."""
        rid = new_request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        try:
            try:
                response = await self.endpoint(_FastRequest(scope, receive))
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


class FastPathApp(FastAPI):
    """A FastAPI app whose hot routes are answered before any of FastAPI's per-request work.

    FastAPI's own ``__call__`` checks its telemetry configuration on every request, then
    Starlette runs the middleware stack and the router; a fast path skips all of it. Every
    other request (and the lifespan) goes through FastAPI as usual. Before either, a request
    for a host the service does not answer to gets its 421 (:mod:`services.hosts`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast_paths: dict[tuple[str, str], FastPath] = {}
        #: Hot routes with path parameters: method, the path's pattern, the route.
        self.fast_patterns: list[tuple[str, re.Pattern[str], FastPath]] = []
        self.hosts: HostAllowList | None = None  # from app.state.settings at the first request

    def _fast_path(self, scope: Scope) -> FastPath | None:
        method, path = scope["method"], scope["path"]
        fast = self.fast_paths.get((method, path))
        if fast is not None:
            return fast
        for wanted, pattern, route in self.fast_patterns:
            if wanted == method and (match := pattern.fullmatch(path)) is not None:
                scope["path_params"] = match.groupdict()
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a host not served here; serve a fast path, else hand the request to FastAPI."""
        if scope["type"] == "http":
            hosts = self.hosts
            if hosts is None:
                settings = getattr(self.state, "settings", None)
                hosts = self.hosts = HostAllowList.for_settings(settings)
            refused = hosts.refusal(scope)
            if refused is not None:
                await refused(scope, receive, send)
                return
            fast = self._fast_path(scope) if self.fast_paths or self.fast_patterns else None
            if fast is not None:
                scope["app"] = self  # what Starlette would set: endpoints read app.state
                await fast.serve(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def install_fast_path(
    app: FastAPI,
    *,
    method: str,
    endpoint: Endpoint,
    path: str | None = None,
    pattern: str | None = None,
) -> None:
    """Serve ``method path`` (or every path ``pattern`` matches whole, its named groups as path
    parameters) with ``endpoint`` ahead of ``app``'s whole per-request machinery.

    ``app`` must be a :class:`FastPathApp` (every app made by ``new_service_app`` is one).
    """
    if not isinstance(app, FastPathApp):
        raise TypeError(f"a fast path needs a FastPathApp, not {type(app).__name__}")
    if (path is None) == (pattern is None):
        raise TypeError("give a fast path either a path or a pattern")
    if path is not None:
        app.fast_paths[method, path] = FastPath(method=method, path=path, endpoint=endpoint)
    else:
        assert pattern is not None
        route = FastPath(method=method, path=pattern, endpoint=endpoint)
        app.fast_patterns.append((method, re.compile(pattern), route))
