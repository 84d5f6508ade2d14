"""The archived event history (``/api/v1/events``): search, one event, and an archiving pass now."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from control_instance.archive import history
from control_instance.archive.schemas import (
    ArchivedEventDetail,
    ArchivedEventPublic,
    ArchiveOutcome,
)
from control_instance.archive.service import archive_all
from control_instance.deps import AdminDep, StateDep, ViewerDep
from control_instance.pagination import Page, PageDep, PlIdPath

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/events", tags=["event history"])


@router.get("", response_model=Page[ArchivedEventPublic])
async def list_events(
    _: ViewerDep,
    state: StateDep,
    page: PageDep,
    email: Annotated[str | None, Query(max_length=320)] = None,
    external_id: Annotated[str | None, Query(max_length=255)] = None,
    pl_id: Annotated[int | None, Query(alias="plId", ge=-(2**63), le=2**63 - 1)] = None,
    event_type: Annotated[str | None, Query(alias="type", max_length=64)] = None,
    status: Annotated[
        str | None, Query(max_length=32, description="A REST status name or its number.")
    ] = None,
    channel: Annotated[
        int | None, Query(ge=0, le=255, description="0 email, 1 SMS, 41 iOS, 42 Android")
    ] = None,
    instance: Annotated[int | None, Query(ge=1, le=255, description="Instance id.")] = None,
    since: Annotated[datetime | None, Query(description="Received at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Received before (ISO 8601).")] = None,
) -> Page[ArchivedEventPublic]:
    """Search the archived events of every execution instance, newest first."""
    where = history.EventFilter(
        email=email,
        external_id=external_id,
        pl_id=pl_id,
        event_type=event_type,
        status=history.parse_status(status),
        channel=channel,
        instance_id=instance,
        since=since,
        until=until,
    )
    return await run_in_threadpool(lambda: history.list_events(db=state.db, where=where, page=page))


@router.post("/archive", response_model=list[ArchiveOutcome])
async def archive_now(_: AdminDep, state: StateDep) -> list[ArchiveOutcome]:
    """Run an archiving pass on every enabled execution instance now."""
    return await archive_all(state=state)


@router.get("/{pl_id}", response_model=ArchivedEventDetail)
async def get_event(pl_id: PlIdPath, _: ViewerDep, state: StateDep) -> ArchivedEventDetail:
    """Return one archived event, its document (ctx included) and its outcome."""
    return await run_in_threadpool(lambda: history.get_event(db=state.db, pl_id=pl_id))
