"""Forward one request to a backend chosen round-robin and stream its answer back."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from services.errors import McsimError, UpstreamTimeout, UpstreamUnavailable
from services.logging_setup import request_id
from services.web import error_response

__all__ = ["Proxy"]

log = logging.getLogger("mcsim.lb")

# Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


class Proxy:
    """Round-robin over the configured backends."""

    def __init__(self, backends: list[str], client: httpx.AsyncClient) -> None:
        self.backends = [url.rstrip("/") for url in backends]
        self.client = client
        self._next = itertools.cycle(range(len(self.backends)))

    def pick(self) -> str:
        """Return the base URL of the next backend."""
        if not self.backends:
            raise UpstreamUnavailable("no execution instance is configured behind the balancer")
        return self.backends[next(self._next)]

    async def forward(self, request: Request) -> Response:
        """Send ``request`` to the next backend and stream the answer to the caller."""
        backend = self.pick()
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "x-request-id"
        ]
        headers.append(("x-request-id", request_id.get() or ""))
        client_host = request.client.host if request.client else ""
        forwarded_for = request.headers.get("x-forwarded-for")
        headers.append(
            ("x-forwarded-for", f"{forwarded_for}, {client_host}" if forwarded_for else client_host)
        )
        headers.append(("x-forwarded-proto", request.url.scheme))
        headers.append(("x-forwarded-host", request.headers.get("host", "")))
        upstream = self.client.build_request(
            request.method,
            backend + request.url.path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        try:
            answer = await self.client.send(upstream, stream=True)
        except httpx.TimeoutException as exc:
            return _failure(UpstreamTimeout(f"backend {backend} did not answer in time"), exc)
        except httpx.TransportError as exc:
            return _failure(UpstreamUnavailable(f"backend {backend} cannot be reached"), exc)
        response_headers = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return StreamingResponse(
            _body(answer),
            status_code=answer.status_code,
            headers=response_headers,
            background=BackgroundTask(answer.aclose),
        )


async def _body(answer: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in answer.aiter_raw():
        yield chunk


def _failure(error: McsimError, exc: Exception) -> Response:
    log.warning(error.message, extra={"cause": type(exc).__name__})
    return error_response(error)
