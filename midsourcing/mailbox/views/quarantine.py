"""Quarantine: the addresses with delivery errors or in quarantine, and their release."""

from __future__ import annotations

from typing import Annotated, get_args

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from midsourcing.deps import StateDep
from midsourcing.mailbox.csrf import CsrfChecked
from midsourcing.mailbox.rendering import page, redirect
from midsourcing.quarantine import service
from midsourcing.routes.quarantine import AddressStatusName
from services.errors import InvalidRequest
from services.safe_input import Int64, SearchText
from services.ui.listing import choice, pager_base

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

STATUSES: tuple[str, ...] = get_args(AddressStatusName)
CHANNELS = ("email", "sms", "ios", "android")
_LIMIT = 50


@router.get("/quarantine", response_class=HTMLResponse)
async def quarantine_page(
    request: Request,
    state: StateDep,
    status: str = "",
    channel: str = "",
    address: SearchText = "",
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = _LIMIT,
    released: Int64 | None = None,
) -> HTMLResponse:
    """List the addresses in quarantine or with errors, the latest errors first."""
    found = await run_in_threadpool(
        service.list_addresses,
        db=state.db,
        status=choice(status, STATUSES, "status"),
        channel=choice(channel, CHANNELS, "channel"),
        contains=address.strip() or None,
        limit=limit,
        offset=offset,
    )
    filters = {"status": status, "channel": channel, "address": address.strip()}
    return page(
        request,
        "quarantine.html",
        active="/quarantine",
        found=found,
        filters=filters,
        filtered=any(filters.values()),
        base=pager_base("/quarantine", filters),
        statuses=STATUSES,
        channels=CHANNELS,
        released=released,
    )


@router.post("/quarantine/release", response_model=None)
async def release_one(
    state: StateDep, _: CsrfChecked, address: Annotated[str, Form()] = ""
) -> Response:
    """Release one address: it is sent to again."""
    if not address:
        raise InvalidRequest("say which address to release", field="address")
    await run_in_threadpool(service.release_address, db=state.db, address=address)
    return redirect("/quarantine?released=1")


@router.post("/quarantine/release-all", response_model=None)
async def release_all(
    state: StateDep, _: CsrfChecked, status: Annotated[str, Form()] = ""
) -> Response:
    """Release every address (only those of one status when given)."""
    result = await run_in_threadpool(
        service.release_all, db=state.db, status=choice(status, STATUSES, "status")
    )
    return redirect(f"/quarantine?released={result.released}")
