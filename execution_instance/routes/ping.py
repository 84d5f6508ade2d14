"""Campaign's monitoring page: ``GET /nl/jsp/ping.jsp``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from services.db import Database

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])


def xtk_now() -> str:
    """Return the current time as an XTK datetime string (``2026-11-28 10:00:00.000Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


@router.get("/nl/jsp/ping.jsp", response_class=PlainTextResponse)
async def ping(request: Request) -> PlainTextResponse:
    """Answer ``OK`` and the server time after a database round trip, as Campaign does."""
    db: Database = request.app.state.db
    if not await run_in_threadpool(db.ping):
        return PlainTextResponse("Error\nThe database cannot be reached.\n", status_code=503)
    return PlainTextResponse(f"OK\n{xtk_now()}\n")
