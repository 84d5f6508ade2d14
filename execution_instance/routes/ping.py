"""Campaign's monitoring page: ``GET /nl/jsp/ping.jsp``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from services.db import Database
from services.xtk import xtk_now

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])


@router.get("/nl/jsp/ping.jsp", response_class=PlainTextResponse)
async def ping(request: Request) -> PlainTextResponse:
    """Answer ``OK`` and the server time after a database round trip, as Campaign does."""
    db: Database = request.app.state.db
    if not await run_in_threadpool(db.ping):
        return PlainTextResponse("Error\nThe database cannot be reached.\n", status_code=503)
    return PlainTextResponse(f"OK\n{xtk_now()}\n")


@router.get("/nl/jsp/mcPing.jsp", response_class=PlainTextResponse)
async def mc_ping(request: Request) -> PlainTextResponse:
    """Report the Message Center queue: ``<pending>/<threshold> pending events``."""
    state = request.app.state.execution
    pending: int = await run_in_threadpool(state.intake.pending, fresh=True)
    warning, hard = state.settings.queue_warning, state.settings.queue_hard_limit
    counts = f"{pending}/{warning} pending events"
    if pending > hard:
        text = (
            f"Error\n{xtk_now()}\n{counts}\nThe queue is full ({hard}): new events are refused.\n"
        )
        return PlainTextResponse(text, status_code=503)
    if pending > warning:
        return PlainTextResponse(
            f"Error\n{xtk_now()}\n{counts}\nThe queue is above its threshold.\n"
        )
    return PlainTextResponse(f"Ok\n{xtk_now()}\n{counts}\n")
