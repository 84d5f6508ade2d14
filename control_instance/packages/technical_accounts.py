"""Technical accounts in packages: their client id, name, scopes and product profiles only.

A client secret never leaves the control instance: the export has none, an import that carries
one is refused, and an account a package creates has no secret until an admin adds one
(``POST /api/v1/technical-accounts/{id}/secrets``) *(emulator choice: Adobe keeps technical
accounts in the Developer Console, outside Campaign's packages)*. Accounts move only when chosen
by client id, as execution-instance accounts move only by name.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_instance.ims.service import profiles_of, scopes_of
from control_instance.packages.model import InvalidPackage
from control_instance.tables import TechnicalAccount
from services.clock import utc_now
from services.errors import NotFound

__all__ = [
    "TECHNICAL_ACCOUNT_SCHEMA",
    "TechnicalAccountEntry",
    "apply_technical_accounts",
    "collect_technical_accounts",
    "plan_technical_accounts",
    "read_technical_account",
    "write_technical_accounts",
]

TECHNICAL_ACCOUNT_SCHEMA = "mcsim:technicalAccount"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_.-]{8,64}$")
_SCOPE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_SECRET_NAMES = ("clientSecret", "client_secret", "secret", "password")


@dataclass(frozen=True)
class TechnicalAccountEntry:
    """A technical account (key: client id), never with a secret."""

    client_id: str
    name: str
    scopes: tuple[str, ...]
    product_profiles: tuple[str, ...]


def collect_technical_accounts(
    session: Session, client_ids: Sequence[str]
) -> list[TechnicalAccountEntry]:
    """Return the chosen accounts as package entries (none when none is chosen)."""
    if not client_ids:
        return []
    rows = list(
        session.scalars(select(TechnicalAccount).where(TechnicalAccount.client_id.in_(client_ids)))
    )
    missing = sorted(set(client_ids) - {row.client_id for row in rows})
    if missing:
        raise NotFound(f"no technical account {', '.join(missing)} to export")
    return [
        TechnicalAccountEntry(
            client_id=row.client_id,
            name=row.name,
            scopes=tuple(scopes_of(row)),
            product_profiles=tuple(profiles_of(row)),
        )
        for row in rows
    ]


def write_technical_accounts(root: etree._Element, entries: list[TechnicalAccountEntry]) -> None:
    """Append the accounts' ``<entities>`` section to a package document."""
    if not entries:
        return
    section = etree.SubElement(root, "entities", schema=TECHNICAL_ACCOUNT_SCHEMA)
    for entry in sorted(entries, key=lambda e: e.client_id):
        element = etree.SubElement(
            section,
            "technicalAccount",
            clientId=entry.client_id,
            name=entry.name,
            scopes=",".join(entry.scopes),
        )
        for profile in entry.product_profiles:
            etree.SubElement(element, "productProfile", name=profile)


def _where(element: etree._Element) -> str:
    return f"line {element.sourceline}: <{element.tag}>"


def read_technical_account(element: etree._Element) -> TechnicalAccountEntry:
    """Read one ``<technicalAccount>``; refuse a secret and what the API would refuse."""
    where = _where(element)
    carried = [name for name in _SECRET_NAMES if element.get(name) is not None]
    carried += [c.tag for c in element if isinstance(c.tag, str) and c.tag in _SECRET_NAMES]
    if carried:
        raise InvalidPackage(f"{where}: packages never carry client secrets", field=carried[0])
    client_id = element.get("clientId") or ""
    if not _CLIENT_ID.match(client_id):
        raise InvalidPackage(
            f"{where}: clientId={client_id!r} is not a client id", field="clientId"
        )
    name = element.get("name") or ""
    if not 1 <= len(name) <= 255:
        raise InvalidPackage(f"{where}: name must have 1 to 255 characters", field="name")
    scopes = tuple(s for s in (element.get("scopes") or "").split(",") if s)
    bad = [s for s in scopes if not _SCOPE.match(s)]
    if not scopes or bad:
        raise InvalidPackage(
            f"{where}: scopes must be a comma-separated list of scopes",
            detail=f"not a scope: {bad[0]!r}" if bad else "no scope",
            field="scopes",
        )
    profiles: list[str] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag != "productProfile":
            raise InvalidPackage(f"{_where(child)} is not expected in <technicalAccount>")
        profile = child.get("name") or ""
        if not 1 <= len(profile) <= 255 or "," in profile:
            raise InvalidPackage(f"{_where(child)}: not a product profile name", field="name")
        profiles.append(profile)
    return TechnicalAccountEntry(client_id, name, scopes, tuple(dict.fromkeys(profiles)))


def plan_technical_accounts(
    session: Session, entries: list[TechnicalAccountEntry]
) -> list[tuple[str, bool, list[str], str]]:
    """Return, per entry: its key, whether it exists, the fields that change, and a note."""
    keys = [e.client_id for e in entries]
    if len(set(keys)) != len(keys):
        raise InvalidPackage("the package holds a technical account twice")
    rows = {
        r.client_id: r
        for r in session.scalars(
            select(TechnicalAccount).where(TechnicalAccount.client_id.in_(keys))
        )
    }
    planned: list[tuple[str, bool, list[str], str]] = []
    for entry in entries:
        row = rows.get(entry.client_id)
        if row is None:
            planned.append((entry.client_id, False, [], "created without a client secret: add one"))
            continue
        pairs = {
            "name": (row.name, entry.name),
            "scopes": (scopes_of(row), list(entry.scopes)),
            "productProfiles": (profiles_of(row), list(entry.product_profiles)),
        }
        fields = [name for name, (old, new) in pairs.items() if old != new]
        planned.append((entry.client_id, True, fields, ""))
    return planned


def apply_technical_accounts(session: Session, entries: list[TechnicalAccountEntry]) -> None:
    """Create or update the accounts (their secrets, if any, are kept)."""
    now = utc_now()
    keys = [e.client_id for e in entries]
    rows = {
        r.client_id: r
        for r in session.scalars(
            select(TechnicalAccount).where(TechnicalAccount.client_id.in_(keys))
        )
    }
    for entry in entries:
        row = rows.get(entry.client_id)
        scopes, profiles = ",".join(entry.scopes), json.dumps(list(entry.product_profiles))
        if row is None:
            session.add(
                TechnicalAccount(
                    client_id=entry.client_id,
                    name=entry.name,
                    account_user=f"{secrets.token_hex(12).upper()}@techacct.adobe.com",
                    scopes=scopes,
                    product_profiles=profiles,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif (row.name, row.scopes, row.product_profiles) != (entry.name, scopes, profiles):
            row.name, row.scopes, row.product_profiles = entry.name, scopes, profiles
            row.updated_at = now
