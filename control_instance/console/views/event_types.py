"""Console section: event types — list, create, change the label, delete.

Each change calls the same use case as ``/api/v1/event-types`` and shows how every execution
instance took it (a failed instance is listed; the change can be made again to retry).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from control_instance.console.deps import EditorUser, User, ViewerUser
from control_instance.console.rendering import page
from control_instance.console.views.templates_forms import parse_form
from control_instance.deps import StateDep
from control_instance.event_types import service
from control_instance.event_types.schemas import (
    EventTypeChange,
    EventTypeCreate,
    EventTypeUpdate,
)
from control_instance.pagination import PageParams, RowId
from control_instance.state import ControlState

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_ALL = PageParams(limit=500, offset=0)


async def _section(
    request: Request,
    state: ControlState,
    user: User,
    *,
    whole: bool,
    change: EventTypeChange | None = None,
    done: str | None = None,
    **extra: Any,
) -> HTMLResponse:
    listed = await run_in_threadpool(lambda: service.list_event_types(db=state.db, page=_ALL))
    return page(
        request,
        "event_types.html" if whole else "_event_types_section.html",
        user,
        active="/event-types",
        event_types=listed,
        change=change,
        done=done,
        **extra,
    )


@router.get("/event-types", response_class=HTMLResponse)
async def list_page(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Show the event types."""
    return await _section(request, state, user, whole=True)


@router.post("/event-types", response_class=HTMLResponse)
async def create(
    request: Request,
    state: StateDep,
    user: EditorUser,
    name: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Create an event type and publish it to every execution instance."""
    new = parse_form(EventTypeCreate, name=name.strip(), label=label.strip())
    change = await service.create_event_type(state=state, new=new)
    return await _section(
        request, state, user, whole=False, change=change, done=f"Event type {new.name} created."
    )


@router.post("/event-types/{event_type_id}", response_class=HTMLResponse)
async def update(
    request: Request,
    event_type_id: RowId,
    state: StateDep,
    user: EditorUser,
    label: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Change an event type's label (published again everywhere)."""
    changes = parse_form(EventTypeUpdate, label=label.strip())
    change = await service.update_event_type(
        state=state, event_type_id=event_type_id, changes=changes
    )
    name = change.event_type.name if change.event_type else str(event_type_id)
    return await _section(
        request, state, user, whole=False, change=change, done=f"Event type {name} changed."
    )


@router.post("/event-types/{event_type_id}/delete", response_class=HTMLResponse)
async def delete(
    request: Request, event_type_id: int, state: StateDep, user: EditorUser
) -> HTMLResponse:
    """Delete an event type no template uses (removed from every instance)."""
    before = await run_in_threadpool(
        lambda: service.get_event_type(db=state.db, event_type_id=event_type_id)
    )
    change = await service.delete_event_type(state=state, event_type_id=event_type_id)
    return await _section(
        request, state, user, whole=False, change=change, done=f"Event type {before.name} deleted."
    )
