"""Publish, unpublish, pause, resume and roll back templates on every execution instance.

Each publish of changed content is a new version; publishing unchanged content again re-sends
the newest version, which instances that already have it ignore (idempotent by version): that
is how a partial failure is retried. Every field is sent, empty ones too, so emptying a field
empties it on the instances (Campaign keeps the old value there; mcsim does not copy that quirk).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceClient
from control_instance.accounts.service import Target, list_targets
from control_instance.fanout import Action, InstanceOutcome, fan_out
from control_instance.state import ControlState
from control_instance.tables import Deployment, EventType, TemplateVersion
from control_instance.templates import content as contents
from control_instance.templates.content import ChannelName
from control_instance.templates.schemas import PublishOut, TemplateState
from control_instance.templates.service import get, latest_version, public
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, NotFound

__all__ = [
    "Release",
    "pause_template",
    "publish_template",
    "resume_template",
    "rollback_template",
    "unpublish_template",
]


@dataclass(frozen=True)
class Release:
    """What an instance receives for one template."""

    name: str
    event_type: str
    event_type_label: str
    channel: int
    version: int
    content: dict[str, str]
    paused: bool = False

    async def send(self, client: InstanceClient) -> bool:
        """Publish the event type and this version on one instance; return whether it changed."""
        await client.put_event_type(self.event_type, self.event_type_label)
        return await client.put_template(
            self.name,
            event_type=self.event_type,
            channel=self.channel,
            version=self.version,
            content=self.content,
        )


def _release(db: Database, template_id: int, *, actor: str, rollback_to: int | None) -> Release:
    """Make the version to publish (a new one when the content changed) and mark it Published."""
    with db.transaction(write=True) as session:
        row = get(session, template_id)
        channel = ChannelName.of(row.channel)
        if rollback_to is not None:
            old = session.execute(
                select(TemplateVersion).where(
                    TemplateVersion.template_id == template_id,
                    TemplateVersion.version == rollback_to,
                )
            ).scalar_one_or_none()
            if old is None:
                raise NotFound(f"template {row.name!r} has no version {rollback_to}")
            row.content = old.content
            note = f"rollback to version {rollback_to}"
        else:
            note = "publish"
        content = contents.normalize(channel, contents.decode(row.content))
        contents.compile_content(row.name, channel, content)
        latest = latest_version(session, template_id)
        now = utc_now()
        if latest is not None and latest.content == row.content:
            version = latest.version
        else:
            version = (latest.version if latest else 0) + 1
            session.add(
                TemplateVersion(
                    template_id=template_id,
                    version=version,
                    content=row.content,
                    note=note,
                    published_at=now,
                    published_by=actor,
                )
            )
        was_paused = row.state == TemplateState.PAUSED.value
        row.state = TemplateState.PUBLISHED.value
        row.updated_at = now
        event_type = session.get(EventType, row.event_type_id)
        assert event_type is not None
        return Release(
            name=row.name,
            event_type=event_type.name,
            event_type_label=event_type.label,
            channel=row.channel,
            version=version,
            content=content,
            paused=was_paused,
        )


def _record(
    db: Database,
    template_id: int,
    action: str,
    version: int | None,
    outcomes: list[InstanceOutcome],
) -> PublishOut:
    now = utc_now()
    with db.transaction(write=True) as session:
        for outcome in outcomes:
            row = session.get(Deployment, (template_id, outcome.account_id))
            if row is None:
                row = Deployment(template_id=template_id, account_id=outcome.account_id)
                session.add(row)
            row.action, row.ok, row.error, row.at = action, outcome.ok, outcome.error, now
            if outcome.ok or row.version is None:
                row.version = version if outcome.ok else None
        session.flush()
        template = public(session, get(session, template_id))
    return PublishOut(
        template=template,
        version=version,
        complete=all(o.ok for o in outcomes),
        instances=outcomes,
    )


async def _everywhere(state: ControlState, action: Action) -> list[InstanceOutcome]:
    targets = await run_in_threadpool(lambda: list_targets(state=state))
    return await fan_out(state, targets, action)


async def _publish(
    state: ControlState, template_id: int, actor: str, rollback_to: int | None
) -> PublishOut:
    release = await run_in_threadpool(
        lambda: _release(state.db, template_id, actor=actor, rollback_to=rollback_to)
    )

    async def send(client: InstanceClient, _target: Target) -> bool:
        changed = await release.send(client)
        if release.paused and not changed:
            await client.resume_template(release.name)  # a publish resumes a paused template
        return changed

    outcomes = await _everywhere(state, send)
    action = "rollback" if rollback_to is not None else "publish"
    return await run_in_threadpool(
        _record, state.db, template_id, action, release.version, outcomes
    )


async def publish_template(*, state: ControlState, template_id: int, actor: str) -> PublishOut:
    """Publish the draft to every enabled execution instance, in parallel."""
    return await _publish(state, template_id, actor, None)


async def rollback_template(
    *, state: ControlState, template_id: int, version: int, actor: str
) -> PublishOut:
    """Publish an older version again, as a new version (the draft becomes that content)."""
    return await _publish(state, template_id, actor, version)


def _transition(
    db: Database, template_id: int, allowed: set[str], new_state: str
) -> tuple[str, int | None]:
    with db.transaction(write=True) as session:
        row = get(session, template_id)
        if row.state not in allowed:
            raise Conflict(
                f"template {row.name!r} is {row.state.replace('_', ' ')}",
                detail=f"allowed from: {', '.join(sorted(allowed))}",
            )
        row.state = new_state
        row.updated_at = utc_now()
        latest = latest_version(session, template_id)
        return row.name, latest.version if latest else None


async def unpublish_template(*, state: ControlState, template_id: int) -> PublishOut:
    """Remove the template from every instance; it goes back to Being edited."""
    name, _version = await run_in_threadpool(
        _transition,
        state.db,
        template_id,
        {TemplateState.PUBLISHED.value, TemplateState.PAUSED.value},
        TemplateState.BEING_EDITED.value,
    )

    async def remove(client: InstanceClient, _target: Target) -> bool:
        await client.delete_template(name)
        return True

    outcomes = await _everywhere(state, remove)
    return await run_in_threadpool(_record, state.db, template_id, "unpublish", None, outcomes)


async def pause_template(*, state: ControlState, template_id: int) -> PublishOut:
    """Pause a published template everywhere: its events wait until it is resumed."""
    name, version = await run_in_threadpool(
        _transition,
        state.db,
        template_id,
        {TemplateState.PUBLISHED.value},
        TemplateState.PAUSED.value,
    )

    async def pause(client: InstanceClient, _target: Target) -> bool:
        await client.pause_template(name)
        return True

    outcomes = await _everywhere(state, pause)
    return await run_in_threadpool(_record, state.db, template_id, "pause", version, outcomes)


async def resume_template(*, state: ControlState, template_id: int) -> PublishOut:
    """Resume a paused template everywhere; its paused events go back to the queue."""
    name, version = await run_in_threadpool(
        _transition,
        state.db,
        template_id,
        {TemplateState.PAUSED.value},
        TemplateState.PUBLISHED.value,
    )

    async def resume(client: InstanceClient, _target: Target) -> bool:
        await client.resume_template(name)
        return True

    outcomes = await _everywhere(state, resume)
    return await run_in_threadpool(_record, state.db, template_id, "resume", version, outcomes)
