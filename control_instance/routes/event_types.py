"""Event types (``/api/v1/event-types``)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from control_instance.deps import EditorDep, StateDep, ViewerDep
from control_instance.event_types import service
from control_instance.event_types.schemas import (
    EventTypeChange,
    EventTypeCreate,
    EventTypePublic,
    EventTypeUpdate,
)
from control_instance.pagination import Page, PageDep, RowId

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/event-types", tags=["event types"])


@router.get("", response_model=Page[EventTypePublic])
async def list_event_types(_: ViewerDep, state: StateDep, page: PageDep) -> Page[EventTypePublic]:
    """List the event types."""
    return await run_in_threadpool(lambda: service.list_event_types(db=state.db, page=page))


@router.post("", response_model=EventTypeChange, status_code=201)
async def create_event_type(
    body: EventTypeCreate, _: EditorDep, state: StateDep
) -> EventTypeChange:
    """Create an event type and publish it to every enabled execution instance."""
    return await service.create_event_type(state=state, new=body)


@router.get("/{event_type_id}", response_model=EventTypePublic)
async def get_event_type(event_type_id: RowId, _: ViewerDep, state: StateDep) -> EventTypePublic:
    """Return one event type."""
    return await run_in_threadpool(
        lambda: service.get_event_type(db=state.db, event_type_id=event_type_id)
    )


@router.patch("/{event_type_id}", response_model=EventTypeChange)
async def update_event_type(
    event_type_id: RowId, body: EventTypeUpdate, _: EditorDep, state: StateDep
) -> EventTypeChange:
    """Change an event type's label (published again everywhere)."""
    return await service.update_event_type(state=state, event_type_id=event_type_id, changes=body)


@router.delete("/{event_type_id}", response_model=EventTypeChange)
async def delete_event_type(event_type_id: RowId, _: EditorDep, state: StateDep) -> EventTypeChange:
    """Delete an event type no template uses, and unpublish it everywhere."""
    return await service.delete_event_type(state=state, event_type_id=event_type_id)
