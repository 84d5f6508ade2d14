"""Import: check a package against this control instance, report the diff, apply it atomically.

Every entity is matched by its key (event types, templates and accounts by name, seed
addresses by template and label) and compared field by field. A dry run only reports; an apply
changes the database in one transaction, so a package is installed whole or not at all.
Templates are created Being edited, and an updated template keeps its state with a new draft:
either way it reaches the execution instances only when it is published. Accounts are created
disabled and without a password, which must be set before they are enabled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from control_instance.accounts.service import PASSWORD_PURPOSE
from control_instance.packages.document import read_document
from control_instance.packages.model import (
    ACCOUNT_SCHEMA,
    EVENT_TYPE_SCHEMA,
    SEED_SCHEMA,
    TEMPLATE_SCHEMA,
    AccountEntry,
    EventTypeEntry,
    InvalidPackage,
    Package,
    SeedEntry,
    TemplateEntry,
)
from control_instance.packages.schemas import Action, EntityChange, ImportReport, PackageInfo
from control_instance.packages.technical_accounts import (
    TECHNICAL_ACCOUNT_SCHEMA,
    apply_technical_accounts,
    plan_technical_accounts,
)
from control_instance.secrets import SecretBox
from control_instance.tables import Account, EventType, Removal, Seed, Template
from control_instance.templates import content as contents
from control_instance.templates.content import ChannelName
from control_instance.templates.schemas import TemplateState
from control_instance.templates.seeds import check_address, parse_ctx
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, InvalidRequest

__all__ = ["import_package"]


@dataclass
class _Plan:
    """The changes one package makes, computed before anything is written."""

    changes: list[EntityChange] = field(default_factory=list)
    event_types: dict[str, EventType] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)

    def record(
        self, schema: str, key: str, exists: bool, fields: list[str], note: str = ""
    ) -> Action:
        action = Action.CREATED if not exists else Action.UPDATED if fields else Action.UNCHANGED
        self.changes.append(
            EntityChange(
                schema_name=schema,
                key=key,
                action=action,
                fields=fields if exists else [],
                note=note,
            )
        )
        return action


def _changed(pairs: dict[str, tuple[object, object]]) -> list[str]:
    return [name for name, (old, new) in pairs.items() if old != new]


def _refuse(exc: InvalidRequest, where: str) -> InvalidPackage:
    return InvalidPackage(f"{where}: {exc.message}", detail=exc.detail, field=exc.field)


def _event_types(session: Session, plan: _Plan, entries: list[EventTypeEntry]) -> None:
    rows = {r.name: r for r in session.execute(select(EventType)).scalars()}
    plan.event_types.update(rows)
    for entry in entries:
        row = rows.get(entry.name)
        fields = _changed({"label": (row.label, entry.label)}) if row else []
        plan.record(EVENT_TYPE_SCHEMA, entry.name, row is not None, fields)


def _check_template(entry: TemplateEntry, known_types: set[str]) -> None:
    if entry.event_type not in known_types:
        raise InvalidPackage(
            f"template {entry.name!r} needs event type {entry.event_type!r}, which is neither in "
            "the package nor on this control instance",
            field="eventType",
        )
    try:
        contents.compile_content(entry.name, entry.channel, entry.content)
    except InvalidRequest as exc:
        raise _refuse(exc, f"template {entry.name!r}") from None


def _templates(
    session: Session, plan: _Plan, entries: list[TemplateEntry], package_types: set[str]
) -> None:
    rows = {r.name: r for r in session.execute(select(Template)).scalars()}
    plan.templates.update(rows)
    names = {r.id: r.name for r in plan.event_types.values()}
    for entry in entries:
        _check_template(entry, package_types | set(plan.event_types))
        row = rows.get(entry.name)
        if row is None:
            plan.record(TEMPLATE_SCHEMA, entry.name, False, [], note="arrives Being edited")
            continue
        if row.channel != entry.channel.code:
            raise InvalidPackage(
                f"template {entry.name!r} is {ChannelName.of(row.channel).value} here and "
                f"{entry.channel.value} in the package: a template's channel cannot change",
                field="messageType",
            )
        draft = contents.decode(row.content)
        pairs: dict[str, tuple[object, object]] = {
            "label": (row.label, entry.label),
            "eventType": (names.get(row.event_type_id), entry.event_type),
        }
        for name, value in entry.content.items():
            pairs[f"content.{name}"] = (draft.get(name, ""), value)
        fields = _changed(pairs)
        note = "the draft changes: publish it again" if fields else ""
        plan.record(TEMPLATE_SCHEMA, entry.name, True, fields, note=note)


def _seeds(session: Session, plan: _Plan, entries: list[SeedEntry], package: Package) -> None:
    channels = {t.name: t.channel for t in package.templates}
    channels.update({n: ChannelName.of(r.channel) for n, r in plan.templates.items()})
    by_key: dict[tuple[str, str], Seed] = {}
    for name, template in plan.templates.items():
        statement = select(Seed).where(Seed.template_id == template.id).order_by(Seed.id)
        for seed in session.execute(statement).scalars():
            by_key.setdefault((name, seed.label), seed)  # the oldest of equal labels
    for entry in entries:
        where = f"seed address {entry.template}/{entry.label}"
        if entry.template not in channels:
            raise InvalidPackage(
                f"{where} belongs to template {entry.template!r}, which is neither in the "
                "package nor on this control instance",
                field="delivery",
            )
        try:
            parse_ctx(entry.ctx)
            check_address(channels[entry.template], entry.address)
        except InvalidRequest as exc:
            raise _refuse(exc, where) from None
        row = by_key.get((entry.template, entry.label))
        fields = (
            _changed(
                {
                    "address": (row.address, entry.address.strip()),
                    "externalId": (row.external_id, entry.external_id),
                    "ctx": (row.ctx, entry.ctx),
                }
            )
            if row
            else []
        )
        plan.record(SEED_SCHEMA, f"{entry.template}/{entry.label}", row is not None, fields)


def _accounts(session: Session, plan: _Plan, entries: list[AccountEntry]) -> None:
    rows = {r.name: r for r in session.execute(select(Account)).scalars()}
    for entry in entries:
        row = rows.get(entry.name)
        if row is None:
            note = "created disabled and without a password: set its password, then enable it"
            plan.record(ACCOUNT_SCHEMA, entry.name, False, [], note=note)
            continue
        fields = _changed(
            {
                "label": (row.label, entry.label),
                "url": (row.url, entry.url.rstrip("/")),
                "login": (row.login, entry.login),
            }
        )
        plan.record(ACCOUNT_SCHEMA, entry.name, True, fields)


def _apply(session: Session, package: Package, box: SecretBox, actor: str) -> None:
    now = utc_now()
    types = {r.name: r for r in session.execute(select(EventType)).scalars()}
    for entry in package.event_types:
        event_type = types.get(entry.name)
        if event_type is None:
            session.execute(
                delete(Removal).where(Removal.kind == "event_type", Removal.key == entry.name)
            )
            event_type = EventType(name=entry.name, created_at=now)
            session.add(event_type)
            types[entry.name] = event_type
        if event_type.label != entry.label:
            event_type.label = entry.label
            event_type.updated_at = now
    session.flush()
    templates = {r.name: r for r in session.execute(select(Template)).scalars()}
    for tentry in package.templates:
        encoded = contents.encode(contents.normalize(tentry.channel, tentry.content))
        template = templates.get(tentry.name)
        event_type_id = types[tentry.event_type].id
        if template is None:
            template = Template(
                name=tentry.name,
                channel=tentry.channel.code,
                state=TemplateState.BEING_EDITED.value,
                created_at=now,
            )
            session.add(template)
            templates[tentry.name] = template
        elif (template.label, template.event_type_id, template.content) == (
            tentry.label,
            event_type_id,
            encoded,
        ):
            continue
        template.label = tentry.label
        template.event_type_id = event_type_id
        template.content = encoded
        template.updated_at = now
        template.updated_by = actor
    session.flush()
    for sentry in package.seeds:
        template = templates[sentry.template]
        seed = (
            session.execute(
                select(Seed)
                .where(Seed.template_id == template.id, Seed.label == sentry.label)
                .order_by(Seed.id)
            )
            .scalars()
            .first()
        )
        values = (sentry.address.strip(), sentry.external_id, sentry.ctx)
        if seed is None:
            seed = Seed(template_id=template.id, label=sentry.label, created_at=now)
            session.add(seed)
        elif (seed.address, seed.external_id, seed.ctx) == values:
            continue
        seed.address, seed.external_id, seed.ctx = values
        seed.updated_at = now
    accounts = {r.name: r for r in session.execute(select(Account)).scalars()}
    for aentry in package.accounts:
        account = accounts.get(aentry.name)
        url = aentry.url.rstrip("/")
        if account is None:
            account = Account(
                name=aentry.name,
                password_secret=box.seal("", purpose=PASSWORD_PURPOSE),
                enabled=False,
                created_at=now,
                url=url,
            )
            session.add(account)
        elif (account.label, account.url, account.login) == (aentry.label, url, aentry.login):
            continue
        if account.url != url:
            account.instance_id = None
        account.label, account.url, account.login = aentry.label, url, aentry.login
        account.updated_at = now


def import_package(
    *, db: Database, box: SecretBox, data: bytes, dry_run: bool, actor: str
) -> ImportReport:
    """Check a package, report what it changes, and apply it in one transaction unless a dry run."""
    package = read_document(data)
    plan = _Plan()
    try:
        with db.transaction(write=not dry_run) as session:
            _event_types(session, plan, package.event_types)
            _templates(session, plan, package.templates, {e.name for e in package.event_types})
            _seeds(session, plan, package.seeds, package)
            _accounts(session, plan, package.accounts)
            for key, exists, fields, note in plan_technical_accounts(
                session, package.technical_accounts
            ):
                plan.record(TECHNICAL_ACCOUNT_SCHEMA, key, exists, fields, note=note)
            changing = any(c.action is not Action.UNCHANGED for c in plan.changes)
            if not dry_run and changing:
                _apply(session, package, box, actor)
                apply_technical_accounts(session, package.technical_accounts)
    except DBAPIError as exc:  # a concurrent change to the same names, a trigger, a constraint
        if exc.connection_invalidated:  # the database went away: not a refusal
            raise
        raise Conflict(
            "the database refused the import; nothing was imported: try again",
            detail=str(exc.orig),
        ) from None
    head = package.header
    return ImportReport(
        dry_run=dry_run,
        applied=not dry_run and changing,
        package=PackageInfo(
            name=head.name,
            label=head.label,
            author=head.author,
            environment=head.environment,
            build_number=head.build_number,
            build_version=head.build_version,
            build_date=head.build_date,
        ),
        created=sum(c.action is Action.CREATED for c in plan.changes),
        updated=sum(c.action is Action.UPDATED for c in plan.changes),
        unchanged=sum(c.action is Action.UNCHANGED for c in plan.changes),
        changes=plan.changes,
    )
