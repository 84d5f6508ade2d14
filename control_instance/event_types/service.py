"""Use cases of event types: each change is pushed to every enabled execution instance."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceClient
from control_instance.accounts.service import Target, list_targets
from control_instance.event_types.schemas import (
    EventTypeChange,
    EventTypeCreate,
    EventTypePublic,
    EventTypeUpdate,
)
from control_instance.fanout import fan_out
from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.state import ControlState
from control_instance.tables import EventType, Removal, Template
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, NotFound

__all__ = [
    "create_event_type",
    "delete_event_type",
    "get_by_name",
    "get_event_type",
    "list_event_types",
    "update_event_type",
]


def _public(session: Session, row: EventType) -> EventTypePublic:
    count = session.execute(
        select(func.count()).select_from(Template).where(Template.event_type_id == row.id)
    ).scalar_one()
    return EventTypePublic(
        id=row.id,
        name=row.name,
        label=row.label,
        templates=int(count),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _get(session: Session, event_type_id: int) -> EventType:
    row = session.get(EventType, event_type_id)
    if row is None:
        raise NotFound(f"no event type {event_type_id}")
    return row


def get_by_name(session: Session, name: str) -> EventType:
    """Return the event type called ``name``."""
    row = session.execute(select(EventType).where(EventType.name == name)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no event type {name!r}: create it first", field="event_type")
    return row


def list_event_types(*, db: Database, page: PageParams) -> Page[EventTypePublic]:
    """Return a page of event types, by name."""
    with db.transaction() as session:
        rows, total = fetch_page(session, select(EventType).order_by(EventType.name), page)
        items = [_public(session, row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def get_event_type(*, db: Database, event_type_id: int) -> EventTypePublic:
    """Return one event type."""
    with db.transaction() as session:
        return _public(session, _get(session, event_type_id))


def _create(db: Database, new: EventTypeCreate) -> EventTypePublic:
    now = utc_now()
    row = EventType(name=new.name, label=new.label or new.name, created_at=now, updated_at=now)
    try:
        with db.transaction(write=True) as session:
            session.execute(
                delete(Removal).where(Removal.kind == "event_type", Removal.key == new.name)
            )
            session.add(row)
            session.flush()
            return _public(session, row)
    except IntegrityError:
        raise Conflict(f"an event type {new.name!r} exists already", field="name") from None


async def _push(state: ControlState, public: EventTypePublic) -> EventTypeChange:
    targets = await run_in_threadpool(lambda: list_targets(state=state))

    async def put(client: InstanceClient, _target: Target) -> None:
        await client.put_event_type(public.name, public.label)

    outcomes = await fan_out(state, targets, put)
    return EventTypeChange(
        event_type=public, complete=all(o.ok for o in outcomes), instances=outcomes
    )


async def create_event_type(*, state: ControlState, new: EventTypeCreate) -> EventTypeChange:
    """Create an event type and publish it to every enabled execution instance."""
    public = await run_in_threadpool(_create, state.db, new)
    return await _push(state, public)


async def update_event_type(
    *, state: ControlState, event_type_id: int, changes: EventTypeUpdate
) -> EventTypeChange:
    """Change an event type's label and publish it again."""

    def update() -> EventTypePublic:
        with state.db.transaction(write=True) as session:
            row = _get(session, event_type_id)
            row.label = changes.label
            row.updated_at = utc_now()
            return _public(session, row)

    return await _push(state, await run_in_threadpool(update))


async def delete_event_type(*, state: ControlState, event_type_id: int) -> EventTypeChange:
    """Delete an event type no template uses, and unpublish it everywhere."""

    def remove() -> str:
        with state.db.transaction(write=True) as session:
            row = _get(session, event_type_id)
            if _public(session, row).templates:
                raise Conflict(f"event type {row.name!r} is used by templates: delete them first")
            session.add(Removal(kind="event_type", key=row.name, removed_at=utc_now()))
            session.delete(row)
            return row.name

    name = await run_in_threadpool(remove)
    targets = await run_in_threadpool(lambda: list_targets(state=state))

    async def drop(client: InstanceClient, _target: Target) -> None:
        await client.delete_event_type(name)

    outcomes = await fan_out(state, targets, drop)
    return EventTypeChange(
        event_type=None, complete=all(o.ok for o in outcomes), instances=outcomes
    )
