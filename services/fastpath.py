"""A short way in for one hot route: skip FastAPI's routing, dependencies and exit stack.

The SOAP router answers thousands of calls a second and needs none of what FastAPI adds per
request (the endpoint reads everything from ``request.app.state``). This middleware sits inside
the request-logging middleware, so such calls keep their request id and log line.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["FastPath"]

Endpoint = Callable[[Request], Awaitable[Response]]


class FastPath:
    """Serve ``method path`` with ``endpoint`` directly; pass every other request on."""

    def __init__(self, app: ASGIApp, *, method: str, path: str, endpoint: Endpoint) -> None:
        self.app = app
        self.method = method
        self.path = path
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the hot route here, anything else through the app."""
        if (
            scope["type"] == "http"
            and scope["path"] == self.path
            and scope["method"] == self.method
        ):
            response = await self.endpoint(Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
