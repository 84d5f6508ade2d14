"""A backend for the load-balancer benchmark: a bare FastAPI execution-instance stand-in.

It answers what the balancer needs (``/health`` with an ``instance_id``, ``/nl/jsp/ping.jsp``)
and a fixed ``PushEventResponse`` on the SOAP router, so the benchmark measures the proxies and
not mcsim's intake.

    python -m benchmarks.lb_backend PORT INSTANCE_ID
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from benchmarks.ceiling_app import RESPONSE


def create_app(instance_id: int) -> FastAPI:
    """Return the backend app for ``instance_id``."""
    app = FastAPI()

    @app.post("/nl/jsp/soaprouter.jsp")
    async def soaprouter(request: Request) -> Response:
        await request.body()
        return Response(RESPONSE, media_type="text/xml")

    @app.get("/nl/jsp/ping.jsp")
    async def ping() -> PlainTextResponse:
        return PlainTextResponse("OK\n")

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "service": "execution", "instance_id": instance_id}

    return app


if __name__ == "__main__":
    uvicorn.run(
        create_app(int(sys.argv[2])),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
    )
