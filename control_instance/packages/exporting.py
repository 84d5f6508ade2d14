"""Export: chosen entities of this control instance as a package document.

Nothing chosen exports every template (with its seed addresses) and event type. Chosen templates
bring their event type and their seed addresses along (a transactional message moves with its
event configuration, campaign-facts §6). Accounts move only when chosen by name: each environment
has its own execution instances, and a package of everything must not repoint them. A template
moves with the content of its newest published version, or with its draft when never published.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from control_instance.packages.document import build_document
from control_instance.packages.model import (
    FORMAT_VERSION,
    AccountEntry,
    EventTypeEntry,
    Package,
    PackageHeader,
    SeedEntry,
    TemplateEntry,
)
from control_instance.packages.technical_accounts import collect_technical_accounts
from control_instance.tables import Account, EventType, Seed, Template
from control_instance.templates import content as contents
from control_instance.templates.content import ChannelName
from control_instance.templates.service import latest_version
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, NotFound
from services.safe_input import xml_compatible
from services.version import VERSION

__all__ = ["export_package"]


def _missing(what: str, wanted: Sequence[str], found: Sequence[str]) -> None:
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise NotFound(f"no {what} {', '.join(missing)} to export")


def _template_entry(session: Session, row: Template) -> TemplateEntry:
    event_type = session.get(EventType, row.event_type_id)
    assert event_type is not None
    latest = latest_version(session, row.id)
    return TemplateEntry(
        name=row.name,
        label=row.label,
        event_type=event_type.name,
        channel=ChannelName.of(row.channel),
        content=contents.decode(latest.content if latest else row.content),
        published_version=latest.version if latest else None,
    )


def _collect(
    session: Session,
    templates: Sequence[str],
    event_types: Sequence[str],
    accounts: Sequence[str],
    *,
    everything: bool,
) -> tuple[list[Template], list[EventType], list[Account]]:
    template_query = select(Template)
    type_query = select(EventType)
    account_query = select(Account).where(Account.name.in_(accounts))
    if not everything:
        template_query = template_query.where(Template.name.in_(templates))
        type_query = type_query.where(EventType.name.in_(event_types))
    template_rows = list(session.execute(template_query).scalars())
    type_rows = list(session.execute(type_query).scalars())
    account_rows = list(session.execute(account_query).scalars())
    _missing("template", templates, [t.name for t in template_rows])
    _missing("event type", event_types, [e.name for e in type_rows])
    _missing("account", accounts, [a.name for a in account_rows])
    type_ids = {e.id for e in type_rows}
    for template in template_rows:
        if template.event_type_id not in type_ids:
            event_type = session.get(EventType, template.event_type_id)
            assert event_type is not None
            type_rows.append(event_type)
            type_ids.add(event_type.id)
    return template_rows, type_rows, account_rows


def export_package(
    *,
    db: Database,
    environment: str,
    author: str,
    templates: Sequence[str] = (),
    event_types: Sequence[str] = (),
    accounts: Sequence[str] = (),
    technical_accounts: Sequence[str] = (),
    name: str = "export",
    label: str = "",
) -> bytes:
    """Return a package of the chosen entities (no account, every other entity by default).

    Technical accounts (by client id) move only when chosen, and never with a secret.
    """
    with db.transaction() as session:
        chosen = [*templates, *event_types, *accounts, *technical_accounts]
        template_rows, type_rows, account_rows = _collect(
            session, templates, event_types, accounts, everything=not chosen
        )
        technical = collect_technical_accounts(session, technical_accounts)
        names = {t.id: t.name for t in template_rows}
        seeds: list[Seed] = []
        if names:
            seeds = list(session.execute(select(Seed).where(Seed.template_id.in_(names))).scalars())
        package = Package(
            header=PackageHeader(
                namespace="mcsim",
                name=name,
                label=label,
                author=author,
                build_number=FORMAT_VERSION,
                build_version=VERSION,
                build_date=utc_now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z",
                environment=environment,
            ),
            event_types=[EventTypeEntry(name=e.name, label=e.label) for e in type_rows],
            templates=[_template_entry(session, t) for t in template_rows],
            seeds=[
                SeedEntry(
                    template=names[s.template_id],
                    label=s.label,
                    address=s.address,
                    external_id=s.external_id,
                    ctx=s.ctx,
                )
                for s in seeds
            ],
            accounts=[
                AccountEntry(name=a.name, label=a.label, url=a.url, login=a.login)
                for a in account_rows
            ],
            technical_accounts=technical,
        )
    _check_carried(package)
    return build_document(package)


def _check_carried(package: Package) -> None:
    """Refuse (409) an entity stored with text XML cannot carry, naming it, before lxml does.

    The APIs that store these texts should refuse such characters; this covers rows stored
    before they did (security review F7).
    """
    entities: list[tuple[str, object]] = [("package", package.header)]
    for what, entries in (
        ("event type", package.event_types),
        ("template", package.templates),
        ("seed of template", package.seeds),
        ("account", package.accounts),
    ):
        entities += [(what, entry) for entry in entries]
    for what, entity in entities:
        for item in dataclasses.fields(entity):  # type: ignore[arg-type]
            value = getattr(entity, item.name)
            texts = value.values() if isinstance(value, dict) else [value]
            for text in texts:
                if not isinstance(text, str):
                    continue
                try:
                    xml_compatible(text)
                except ValueError as exc:
                    key = getattr(entity, "name", None) or getattr(entity, "template", "")
                    raise Conflict(
                        f"the {what} {key!r} has a {item.name} that a package cannot carry",
                        detail=f"{exc}; change it, then export again",
                        field=item.name,
                    ) from None
