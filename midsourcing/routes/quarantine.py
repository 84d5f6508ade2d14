"""Quarantine: ``/api/v1/quarantine`` (list, read and release addresses)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from midsourcing.deps import StateDep
from midsourcing.quarantine import service
from midsourcing.quarantine.schemas import AddressPage, AddressPublic, ReleaseResult
from services.safe_input import Int64

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/quarantine", tags=["quarantine"])

AddressStatusName = Literal["quarantine", "withErrors"]


@router.get("", response_model=AddressPage)
async def list_addresses(
    state: StateDep,
    status: Annotated[
        AddressStatusName | None, Query(description="quarantine or withErrors; both by default.")
    ] = None,
    channel: Literal["email", "sms", "ios", "android"] | None = None,
    address: Annotated[str | None, Query(description="Part of the address.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[Int64, Query(ge=0)] = 0,
) -> AddressPage:
    """List the addresses in quarantine or with delivery errors, the latest errors first."""
    return await run_in_threadpool(
        service.list_addresses,
        db=state.db,
        status=status,
        channel=channel,
        contains=address,
        limit=limit,
        offset=offset,
    )


@router.delete("", response_model=ReleaseResult)
async def release_all(state: StateDep, status: AddressStatusName | None = None) -> ReleaseResult:
    """Release every address (only those of ``status`` when given)."""
    return await run_in_threadpool(service.release_all, db=state.db, status=status)


@router.get("/{address:path}", response_model=AddressPublic)
async def get_address(state: StateDep, address: str) -> AddressPublic:
    """Return the quarantine or error record of one address."""
    return await run_in_threadpool(service.get_address, db=state.db, address=address)


@router.delete("/{address:path}", status_code=204, response_class=Response)
async def release_address(state: StateDep, address: str) -> Response:
    """Release one address: it is sent to again."""
    await run_in_threadpool(service.release_address, db=state.db, address=address)
    return Response(status_code=204)
