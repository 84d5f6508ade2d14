"""Seed addresses of a template: who receives proofs, and the ctx a preview renders with."""

from __future__ import annotations

import re

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.tables import Seed
from control_instance.templates.content import ChannelName
from control_instance.templates.schemas import SeedCreate, SeedPublic, SeedUpdate
from control_instance.templates.service import get as get_template
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, InvalidRequest, MalformedXml, NotFound
from services.soap.parser import parse_xml

__all__ = [
    "check_address",
    "create_seed",
    "delete_seed",
    "get",
    "list_seeds",
    "parse_ctx",
    "update_seed",
]

_LOCATION = re.compile(r"^\((\d+):(\d+)\) : (.*)$")
#: E.164: a plus, the country code (no leading zero) and the number, 15 digits at most.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
#: What people write between the digits of a phone number.
_PHONE_PUNCTUATION = re.compile(r"[ .\-]")
MAX_CTX_BYTES = 64 * 1024


def parse_ctx(text: str) -> etree._Element:
    """Parse a seed's ctx XML; a malformed one is refused with its line and column."""
    try:
        root = parse_xml(text.encode(), max_bytes=MAX_CTX_BYTES)
    except MalformedXml as exc:
        match = _LOCATION.match(exc.detail or "")
        if match:
            line, column, reason = match.groups()
            raise MalformedXml(
                f"The ctx XML is not well formed: line {line}, column {column}: {reason}",
                detail=exc.detail,
                field="ctx",
            ) from None
        raise MalformedXml(
            f"The ctx XML is not well formed: {exc.message}", detail=exc.detail, field="ctx"
        ) from None
    except InvalidRequest as exc:  # hostile or too large
        raise type(exc)(
            f"The ctx XML is refused: {exc.message}", detail=exc.detail, field="ctx"
        ) from None
    if etree.QName(root).localname != "ctx":
        raise InvalidRequest(
            f"The ctx XML must have <ctx> as its root element, not <{etree.QName(root).localname}>",
            field="ctx",
        )
    return root


def check_address(channel: ChannelName, address: str) -> str:
    """Return the address trimmed, or refuse one that cannot be used on this channel."""
    address = address.strip()
    if channel is ChannelName.EMAIL and ("@" not in address or " " in address):
        raise InvalidRequest(f"{address!r} is not an email address", field="address")
    if channel is ChannelName.SMS:
        number = _PHONE_PUNCTUATION.sub("", address)
        if not _E164.match(number):
            raise InvalidRequest(
                f"{address!r} is not an international mobile number: write it in E.164, a + and "
                "the country code before the number, as +447700900123 (spaces, dots and dashes "
                "are allowed between the digits)",
                field="address",
            )
        return number  # stored as E.164, as mid-sourcing's SMS connectors expect it
    if not address:
        raise InvalidRequest("the address is empty", field="address")
    return address


def _public(row: Seed) -> SeedPublic:
    return SeedPublic(
        id=row.id,
        template_id=row.template_id,
        label=row.label,
        address=row.address,
        external_id=row.external_id,
        ctx=row.ctx,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get(session: Session, template_id: int, seed_id: int) -> Seed:
    """Return a seed address of a template, or raise NotFound."""
    row = session.get(Seed, seed_id)
    if row is None or row.template_id != template_id:
        raise NotFound(f"template {template_id} has no seed address {seed_id}")
    return row


def list_seeds(*, db: Database, template_id: int, page: PageParams) -> Page[SeedPublic]:
    """Return a page of a template's seed addresses."""
    with db.transaction() as session:
        get_template(session, template_id)
        statement = select(Seed).where(Seed.template_id == template_id).order_by(Seed.id)
        rows, total = fetch_page(session, statement, page)
    return Page(items=[_public(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


def get_seed(*, db: Database, template_id: int, seed_id: int) -> SeedPublic:
    """Return one seed address."""
    with db.transaction() as session:
        return _public(get(session, template_id, seed_id))


def create_seed(*, db: Database, template_id: int, new: SeedCreate) -> SeedPublic:
    """Add a seed address; its ctx must be well-formed XML with a <ctx> root."""
    parse_ctx(new.ctx)
    now = utc_now()
    with db.transaction(write=True) as session:
        template = get_template(session, template_id)
        _label_is_free(session, template_id, new.label)
        row = Seed(
            template_id=template_id,
            label=new.label,
            address=check_address(ChannelName.of(template.channel), new.address),
            external_id=new.external_id,
            ctx=new.ctx,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return _public(row)


def update_seed(*, db: Database, template_id: int, seed_id: int, changes: SeedUpdate) -> SeedPublic:
    """Change a seed address."""
    if changes.ctx is not None:
        parse_ctx(changes.ctx)
    with db.transaction(write=True) as session:
        template = get_template(session, template_id)
        row = get(session, template_id, seed_id)
        if changes.label is not None and changes.label != row.label:
            _label_is_free(session, template_id, changes.label)
            row.label = changes.label
        if changes.address is not None:
            row.address = check_address(ChannelName.of(template.channel), changes.address)
        if changes.external_id is not None:
            row.external_id = changes.external_id
        if changes.ctx is not None:
            row.ctx = changes.ctx
        row.updated_at = utc_now()
        return _public(row)


def _label_is_free(session: Session, template_id: int, label: str) -> None:
    """Refuse a second seed address with the same label in a template: packages name a seed
    address by its template and label, so an export holding both would not import."""
    taken = session.execute(
        select(Seed.id).where(Seed.template_id == template_id, Seed.label == label).limit(1)
    ).first()
    if taken is not None:
        raise Conflict(
            f"this template already has a seed address labelled {label!r}",
            detail="give each seed address of a template its own label",
            field="label",
        )


def delete_seed(*, db: Database, template_id: int, seed_id: int) -> None:
    """Delete a seed address."""
    with db.transaction(write=True) as session:
        session.delete(get(session, template_id, seed_id))
