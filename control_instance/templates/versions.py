"""A template's version history and the field-by-field difference between two versions."""

from __future__ import annotations

import difflib

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.tables import TemplateVersion
from control_instance.templates import content as contents
from control_instance.templates.content import CHANNEL_FIELDS, ChannelName
from control_instance.templates.schemas import FieldDiff, VersionDiff, VersionPublic
from control_instance.templates.service import get
from services.db import Database
from services.errors import NotFound

__all__ = ["diff_fields", "diff_versions", "get_version", "list_versions"]


def _public(row: TemplateVersion) -> VersionPublic:
    return VersionPublic(
        version=row.version,
        content=contents.decode(row.content),
        note=row.note,
        published_at=row.published_at,
        published_by=row.published_by,
    )


def _get(session: Session, template_id: int, version: int) -> TemplateVersion:
    row = session.execute(
        select(TemplateVersion).where(
            TemplateVersion.template_id == template_id, TemplateVersion.version == version
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"template {template_id} has no version {version}")
    return row


def list_versions(*, db: Database, template_id: int, page: PageParams) -> Page[VersionPublic]:
    """Return a page of a template's versions, newest first."""
    with db.transaction() as session:
        get(session, template_id)
        statement = (
            select(TemplateVersion)
            .where(TemplateVersion.template_id == template_id)
            .order_by(TemplateVersion.version.desc())
        )
        rows, total = fetch_page(session, statement, page)
    return Page(items=[_public(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


def get_version(*, db: Database, template_id: int, version: int) -> VersionPublic:
    """Return one version of a template."""
    with db.transaction() as session:
        return _public(_get(session, template_id, version))


def diff_fields(
    fields: tuple[str, ...],
    before: dict[str, str],
    after: dict[str, str],
    *,
    names: tuple[str, str],
) -> list[FieldDiff]:
    """Compare two contents field by field, with a unified diff of each changed field."""
    result = []
    for field in fields:
        old, new = before.get(field, ""), after.get(field, "")
        diff = ""
        if old != new:
            # One line per diff line, even when a field does not end with a newline.
            lines = difflib.unified_diff(
                old.splitlines(),
                new.splitlines(),
                fromfile=f"{names[0]}/{field}",
                tofile=f"{names[1]}/{field}",
                lineterm="",
            )
            diff = "".join(line + "\n" for line in lines)
        result.append(FieldDiff(field=field, changed=old != new, before=old, after=new, diff=diff))
    return result


def diff_versions(
    *, db: Database, template_id: int, source: int, target: int | None
) -> VersionDiff:
    """Compare version ``source`` with version ``target``, or with the draft when it is None."""
    with db.transaction() as session:
        template = get(session, template_id)
        before = contents.decode(_get(session, template_id, source).content)
        if target is None:
            after, target_name = contents.decode(template.content), "draft"
        else:
            after = contents.decode(_get(session, template_id, target).content)
            target_name = f"v{target}"
        fields = CHANNEL_FIELDS[ChannelName.of(template.channel)]
    source_name = f"v{source}"
    return VersionDiff(
        source=source_name,
        target=target_name,
        fields=diff_fields(fields, before, after, names=(source_name, target_name)),
    )
