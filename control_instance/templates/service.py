"""Use cases of templates as drafts: create, read, edit, delete; the API view of a template."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_instance.event_types.service import get_by_name
from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.tables import Deployment, EventType, Template, TemplateVersion
from control_instance.templates import content as contents
from control_instance.templates.content import ChannelName
from control_instance.templates.schemas import (
    DeploymentPublic,
    TemplateCreate,
    TemplatePublic,
    TemplateState,
    TemplateUpdate,
)
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, NotFound

__all__ = [
    "create_template",
    "delete_template",
    "get",
    "get_template",
    "latest_version",
    "list_templates",
    "public",
    "update_template",
]


def get(session: Session, template_id: int) -> Template:
    """Return a template row, or raise NotFound."""
    row = session.get(Template, template_id)
    if row is None:
        raise NotFound(f"no template {template_id}")
    return row


def latest_version(session: Session, template_id: int) -> TemplateVersion | None:
    """Return the newest version of a template, or None when it was never published."""
    return session.execute(
        select(TemplateVersion)
        .where(TemplateVersion.template_id == template_id)
        .order_by(TemplateVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def public(session: Session, row: Template) -> TemplatePublic:
    """Return the API view of a template."""
    event_type = session.get(EventType, row.event_type_id)
    assert event_type is not None
    latest = latest_version(session, row.id)
    state = TemplateState(row.state)
    deployments = session.execute(
        select(Deployment).where(Deployment.template_id == row.id).order_by(Deployment.account_id)
    ).scalars()
    return TemplatePublic(
        id=row.id,
        name=row.name,
        label=row.label,
        event_type=event_type.name,
        channel=ChannelName.of(row.channel),
        channel_code=row.channel,
        state=state,
        content=contents.decode(row.content),
        published_version=latest.version if latest else None,
        has_unpublished_changes=latest is None or latest.content != row.content,
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        deployments=[
            DeploymentPublic(
                account_id=d.account_id,
                action=d.action,
                version=d.version,
                ok=d.ok,
                error=d.error,
                at=d.at,
            )
            for d in deployments
        ],
    )


def list_templates(
    *,
    db: Database,
    page: PageParams,
    event_type: str | None = None,
    channel: ChannelName | None = None,
    state: TemplateState | None = None,
) -> Page[TemplatePublic]:
    """Return a page of templates, by name, optionally filtered."""
    statement = select(Template).order_by(Template.name)
    if event_type is not None:
        statement = statement.join(EventType, EventType.id == Template.event_type_id).where(
            EventType.name == event_type
        )
    if channel is not None:
        statement = statement.where(Template.channel == channel.code)
    if state is not None:
        statement = statement.where(Template.state == state.value)
    with db.transaction() as session:
        rows, total = fetch_page(session, statement, page)
        items = [public(session, row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def get_template(*, db: Database, template_id: int) -> TemplatePublic:
    """Return one template."""
    with db.transaction() as session:
        return public(session, get(session, template_id))


def create_template(*, db: Database, new: TemplateCreate, actor: str) -> TemplatePublic:
    """Create a template Being edited; its content must compile (errors name field and line)."""
    name = new.name or f"{new.event_type}_{new.channel.value}"
    content = contents.normalize(new.channel, new.content)
    contents.compile_content(name, new.channel, content)
    now = utc_now()
    try:
        with db.transaction(write=True) as session:
            event_type = get_by_name(session, new.event_type)
            row = Template(
                name=name,
                label=new.label or f"{event_type.label} ({new.channel.value})",
                event_type_id=event_type.id,
                channel=new.channel.code,
                state=TemplateState.BEING_EDITED.value,
                content=contents.encode(content),
                created_at=now,
                updated_at=now,
                updated_by=actor,
            )
            session.add(row)
            session.flush()
            return public(session, row)
    except IntegrityError:
        raise Conflict(f"a template named {name!r} exists already", field="name") from None


def update_template(
    *, db: Database, template_id: int, changes: TemplateUpdate, actor: str
) -> TemplatePublic:
    """Edit a template's draft; a published template stays published until republished."""
    with db.transaction(write=True) as session:
        row = get(session, template_id)
        if changes.content is not None:
            channel = ChannelName.of(row.channel)
            merged = {**contents.decode(row.content), **changes.content}
            content = contents.normalize(channel, merged)
            contents.compile_content(row.name, channel, content)
            row.content = contents.encode(content)
        if changes.label is not None:
            row.label = changes.label
        row.updated_at = utc_now()
        row.updated_by = actor
        return public(session, row)


def delete_template(*, db: Database, template_id: int) -> None:
    """Delete a template Being edited (a published one must be unpublished first)."""
    with db.transaction(write=True) as session:
        row = get(session, template_id)
        if row.state != TemplateState.BEING_EDITED.value:
            raise Conflict(
                f"template {row.name!r} is {row.state.replace('_', ' ')}: unpublish it first"
            )
        session.delete(row)


def count_templates(session: Session) -> int:
    """Return how many templates exist."""
    return int(session.execute(select(func.count()).select_from(Template)).scalar_one())
