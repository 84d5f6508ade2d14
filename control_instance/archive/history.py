"""Queries of the archived event history (``GET /api/v1/events``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select

from control_instance.archive.schemas import (
    STATUS_NAMES,
    ArchivedEventDetail,
    ArchivedEventPublic,
)
from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.tables import ArchivedEvent
from services.db import Database
from services.errors import InvalidRequest, NotFound
from services.safe_input import ascii_digits

__all__ = ["EventFilter", "get_event", "list_events", "parse_status"]

_STATUS_NUMBERS = {name.lower(): number for number, name in STATUS_NAMES.items()}


@dataclass(frozen=True)
class EventFilter:
    """What the history search asks for; ``None`` means any."""

    email: str | None = None
    external_id: str | None = None
    pl_id: int | None = None
    event_type: str | None = None
    status: int | None = None
    channel: int | None = None
    instance_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def parse_status(value: str | None) -> int | None:
    """Return the status number of ``2`` or ``processed`` (case-insensitive)."""
    if value is None or value == "":
        return None
    if ascii_digits(value) and int(value) in STATUS_NAMES:
        return int(value)
    number = _STATUS_NUMBERS.get(value.lower())
    if number is None:
        raise InvalidRequest(
            f"status {value!r} is not known: use {', '.join(STATUS_NAMES.values())} or 0-7",
            field="status",
        )
    return number


def _public(row: ArchivedEvent) -> ArchivedEventPublic:
    return ArchivedEventPublic(
        pl_id=row.pl_id,
        instance_id=row.instance_id,
        account_id=row.account_id,
        queue=row.queue,
        event_type=row.event_type,
        channel=row.channel,
        status=row.status,
        status_name=STATUS_NAMES.get(row.status, str(row.status)),
        email=row.email,
        mobile_phone=row.mobile_phone,
        external_id=row.external_id,
        created_at=row.created_at,
        processing_at=row.processing_at,
        processed_at=row.processed_at,
        updated_at=row.updated_at,
        error_count=row.error_count,
        failure_reason=row.failure_reason,
        error_text=row.error_text,
        template_name=row.template_name,
        template_version=row.template_version,
        delivery_part=row.delivery_part,
    )


def _filtered(where: EventFilter) -> Select[int]:
    """Return the plIds that match, unordered."""
    statement = select(ArchivedEvent.pl_id)
    columns = {
        "email": ArchivedEvent.email,
        "external_id": ArchivedEvent.external_id,
        "pl_id": ArchivedEvent.pl_id,
        "event_type": ArchivedEvent.event_type,
        "status": ArchivedEvent.status,
        "channel": ArchivedEvent.channel,
        "instance_id": ArchivedEvent.instance_id,
    }
    for name, column in columns.items():
        value = getattr(where, name)
        if value is not None:
            statement = statement.where(column == value)
    if where.since is not None:
        statement = statement.where(ArchivedEvent.created_at >= where.since)
    if where.until is not None:
        statement = statement.where(ArchivedEvent.created_at < where.until)
    return statement


def list_events(*, db: Database, where: EventFilter, page: PageParams) -> Page[ArchivedEventPublic]:
    """Return a page of archived events, newest first.

    The page is found on the indexes alone (each filter's index ends with ``created_at, pl_id``,
    so counting, ordering and skipping read no row), then its rows are read by plId: a page deep
    in a million events does not read the events before it.
    """
    statement = _filtered(where).order_by(
        ArchivedEvent.created_at.desc(), ArchivedEvent.pl_id.desc()
    )
    with db.transaction() as session:
        keys, total = fetch_page(session, statement, page)
        found = session.scalars(select(ArchivedEvent).where(ArchivedEvent.pl_id.in_(keys)))
        rows = {row.pl_id: row for row in found}
        items = [_public(rows[key]) for key in keys if key in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def get_event(*, db: Database, pl_id: int) -> ArchivedEventDetail:
    """Return one archived event with its document."""
    with db.transaction() as session:
        row = session.get(ArchivedEvent, pl_id)
        if row is None:
            raise NotFound(f"no archived event {pl_id}")
        return ArchivedEventDetail(
            **_public(row).model_dump(), document=row.document, archived_at=row.archived_at
        )
