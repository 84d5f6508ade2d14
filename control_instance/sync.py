"""Bring execution instances up to date with the control instance ("sync").

For a new or recovered instance: publish every event type, cell operator and technical token;
apply what was deleted here since (event types, operators, tokens); publish the newest version
of every Published or Paused template (idempotent by version), pause or resume it to match; and
unpublish every template the instance has that is not published here. The control instance is
the source of truth for templates: a template published on an instance by other means is removed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceCallError, InstanceClient
from control_instance.accounts.service import Target, client_for, list_targets
from control_instance.cell.service import OPERATOR_PURPOSE, TOKEN_PURPOSE
from control_instance.state import ControlState
from control_instance.tables import (
    Account,
    CellOperator,
    Deployment,
    EventType,
    Removal,
    TechnicalToken,
    Template,
)
from control_instance.templates import content as contents
from control_instance.templates.publishing import Release
from control_instance.templates.schemas import TemplateState
from control_instance.templates.service import latest_version
from services.clock import utc_now

__all__ = ["SyncOutcome", "sync_instances"]


class SyncOutcome(BaseModel):
    """What a sync did on one instance."""

    account_id: int
    name: str
    url: str
    instance_id: int | None
    ok: bool
    error: str | None = None
    templates_changed: int = 0
    templates_removed: int = 0
    event_types: int = 0
    operators: int = 0
    technical_tokens: int = 0


@dataclass
class _Wanted:
    event_types: list[tuple[str, str]] = field(default_factory=list)
    operators: list[tuple[str, str]] = field(default_factory=list)
    tokens: list[tuple[str, str, str]] = field(default_factory=list)
    removals: list[tuple[str, str, str | None]] = field(default_factory=list)
    releases: dict[int, Release] = field(default_factory=dict)


def _wanted(state: ControlState) -> _Wanted:
    box = state.box
    wanted = _Wanted()
    with state.db.transaction() as session:
        types = {row.id: row for row in session.execute(select(EventType)).scalars()}
        wanted.event_types = [(row.name, row.label) for row in types.values()]
        wanted.operators = [
            (row.login, box.open(row.password_secret, purpose=OPERATOR_PURPOSE))
            for row in session.execute(select(CellOperator)).scalars()
        ]
        wanted.tokens = [
            (box.open(row.token_secret, purpose=TOKEN_PURPOSE), row.label, row.login)
            for row in session.execute(select(TechnicalToken)).scalars()
        ]
        for removal in session.execute(select(Removal).order_by(Removal.id)).scalars():
            secret = box.open(removal.secret, purpose=TOKEN_PURPOSE) if removal.secret else None
            wanted.removals.append((removal.kind, removal.key, secret))
        live = (TemplateState.PUBLISHED.value, TemplateState.PAUSED.value)
        for row in session.execute(select(Template).where(Template.state.in_(live))).scalars():
            latest = latest_version(session, row.id)
            if latest is None:
                continue
            event_type = types[row.event_type_id]
            wanted.releases[row.id] = Release(
                name=row.name,
                event_type=event_type.name,
                event_type_label=event_type.label,
                channel=row.channel,
                version=latest.version,
                content=contents.decode(latest.content),
                paused=row.state == TemplateState.PAUSED.value,
            )
    return wanted


async def _sync_one(client: InstanceClient, wanted: _Wanted, outcome: SyncOutcome) -> None:
    for name, label in wanted.event_types:
        await client.put_event_type(name, label)
    outcome.event_types = len(wanted.event_types)
    for login, password in wanted.operators:
        await client.put_operator(login, password)
    outcome.operators = len(wanted.operators)
    for token, label, login in wanted.tokens:
        await client.add_token(token, label=label, login=login)
    outcome.technical_tokens = len(wanted.tokens)
    for kind, key, secret in wanted.removals:
        if kind == "event_type":
            await client.delete_event_type(key)
        elif kind == "operator":
            await client.delete_operator(key)
        elif kind == "token" and secret:
            await client.revoke_token(secret)
    present = {entry["name"]: bool(entry.get("paused")) for entry in await client.list_templates()}
    for release in wanted.releases.values():
        if await release.send(client):
            outcome.templates_changed += 1
            present[release.name] = False  # a changed publish is not paused
        if release.paused and not present.get(release.name):
            await client.pause_template(release.name)
        elif not release.paused and present.get(release.name):
            await client.resume_template(release.name)
    published = {release.name for release in wanted.releases.values()}
    for name in sorted(set(present) - published):
        await client.delete_template(name)
        outcome.templates_removed += 1


def _record(state: ControlState, wanted: _Wanted, outcomes: list[SyncOutcome]) -> None:
    now = utc_now()
    with state.db.transaction(write=True) as session:
        for outcome in outcomes:
            account = session.get(Account, outcome.account_id)
            if account is None:
                continue
            account.last_checked_at, account.last_check_ok = now, outcome.ok
            account.last_error = outcome.error
            if not outcome.ok:
                continue
            account.last_synced_at = now
            for template_id, release in wanted.releases.items():
                row = session.get(Deployment, (template_id, outcome.account_id))
                if row is None:
                    row = Deployment(template_id=template_id, account_id=outcome.account_id)
                    session.add(row)
                row.action, row.version, row.ok, row.error, row.at = (
                    "sync",
                    release.version,
                    True,
                    None,
                    now,
                )


async def sync_instances(
    *, state: ControlState, account_id: int | None = None
) -> list[SyncOutcome]:
    """Sync one account (enabled or not), or every enabled account in parallel."""
    wanted = await run_in_threadpool(_wanted, state)
    targets = await run_in_threadpool(lambda: list_targets(state=state, account_id=account_id))

    async def one(target: Target) -> SyncOutcome:
        outcome = SyncOutcome(
            account_id=target.account_id,
            name=target.name,
            url=target.url,
            instance_id=target.instance_id,
            ok=True,
        )
        try:
            await _sync_one(client_for(state, target), wanted, outcome)
        except InstanceCallError as exc:
            outcome.ok, outcome.error = False, exc.message
        return outcome

    outcomes = list(await asyncio.gather(*(one(target) for target in targets)))
    await run_in_threadpool(_record, state, wanted, outcomes)
    return outcomes
