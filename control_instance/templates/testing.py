"""Preview a template with a seed address, and send proofs to the seed addresses.

A preview renders exactly as an execution instance would: the seed becomes an event of the
template's type and channel (its address as ``email``, ``mobilePhone`` or ``registrationToken``,
its external id as ``externalId``, its ctx as ``<ctx>``). Proofs go to mid-sourcing with
``nms:delivery#AppendDeliveryPart``, marked ``proof="true"``, event id 0 and unique message ids,
so the capture shows them apart from real messages.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.state import ControlState
from control_instance.tables import ArchivedEvent, EventType, Proof, Seed, TemplateVersion
from control_instance.templates import content as contents
from control_instance.templates.content import ChannelName
from control_instance.templates.schemas import (
    PreviewIn,
    PreviewOut,
    ProofIn,
    ProofMessage,
    ProofOut,
    ProofRecord,
)
from control_instance.templates.seeds import get as get_seed
from control_instance.templates.seeds import parse_ctx
from control_instance.templates.service import get as get_template
from control_instance.templates.service import latest_version
from services.clock import utc_now
from services.db import Database
from services.delivery_client import DeliveryClient, DeliveryClientError
from services.delivery_protocol import DeliveryMessage, DeliveryPart
from services.errors import InvalidRequest, NotFound, UpstreamUnavailable
from services.personalization import CompiledFields, EventData, TemplateEngine
from services.soap.parser import parse_xml

__all__ = ["event_attributes", "list_proofs", "preview_template", "render_for", "send_proof"]

_ADDRESS_ATTRIBUTE = {
    ChannelName.EMAIL: "email",
    ChannelName.SMS: "mobilePhone",
    ChannelName.IOS: "registrationToken",
    ChannelName.ANDROID: "registrationToken",
}


@dataclass(frozen=True)
class _Recipient:
    seed_id: int | None
    label: str | None
    address: str
    external_id: str
    ctx: str


@dataclass(frozen=True)
class _Draft:
    name: str
    event_type: str
    channel: ChannelName
    version: int
    fields: CompiledFields


def event_attributes(
    event_type: str, channel: ChannelName, address: str, external_id: str
) -> dict[str, str]:
    """Return the attributes of the event a seed (or recipient) stands for, as a website sends."""
    attributes = {
        "type": event_type,
        "wishedChannel": str(channel.code),
        _ADDRESS_ATTRIBUTE[channel]: address,
    }
    if external_id:
        attributes["externalId"] = external_id
    return attributes


def render_for(engine: TemplateEngine, draft: _Draft, recipient: _Recipient) -> dict[str, str]:
    """Render a template for one recipient as an execution instance would."""
    attributes = event_attributes(
        draft.event_type, draft.channel, recipient.address, recipient.external_id
    )
    event = EventData(attributes=attributes, ctx=parse_ctx(recipient.ctx))
    out = engine.render_fields(draft.fields, event)
    if draft.channel.is_push and out["data"].strip():
        try:
            data = json.loads(out["data"])
        except ValueError as exc:
            raise InvalidRequest(
                f"the push data does not render to JSON: {exc}", detail=out["data"], field="data"
            ) from None
        if not isinstance(data, dict):
            raise InvalidRequest("the push data must render to a JSON object", field="data")
    return out


def _draft(db: Database, template_id: int, body: PreviewIn | None) -> tuple[_Draft, list[Seed]]:
    with db.transaction() as session:
        row = get_template(session, template_id)
        channel = ChannelName.of(row.channel)
        event_type = session.get(EventType, row.event_type_id)
        assert event_type is not None
        latest = latest_version(session, template_id)
        if body is not None and body.version is not None:
            found = session.execute(
                select(TemplateVersion).where(
                    TemplateVersion.template_id == template_id,
                    TemplateVersion.version == body.version,
                )
            ).scalar_one_or_none()
            if found is None:
                raise NotFound(f"template {row.name!r} has no version {body.version}")
            source, version = contents.decode(found.content), found.version
        else:
            source = contents.decode(row.content)
            if body is not None and body.content is not None:
                source.update(body.content)
            version = latest.version if latest else 0
        seeds = list(
            session.execute(
                select(Seed).where(Seed.template_id == template_id).order_by(Seed.id)
            ).scalars()
        )
        if body is not None and body.seed_id is not None:
            seeds = [get_seed(session, template_id, body.seed_id)]
    fields = contents.compile_content(row.name, channel, contents.normalize(channel, source))
    return _Draft(row.name, event_type.name, channel, version, fields), seeds


def _recipient(seed: Seed) -> _Recipient:
    return _Recipient(seed.id, seed.label, seed.address, seed.external_id, seed.ctx)


#: An archived event's document: its ctx (64 KiB at most at intake) and its attributes.
_MAX_EVENT_BYTES = 1024 * 1024


def _archived(db: Database, channel: ChannelName, pl_id: int) -> _Recipient:
    """The recipient and ctx of an archived event, to render a template as for that event."""
    with db.transaction() as session:
        event = session.get(ArchivedEvent, pl_id)
    if event is None:
        raise InvalidRequest(
            f"no archived event {pl_id}: give the plId of an event the history lists",
            field="event_id",
        )
    root = parse_xml(event.document.encode(), max_bytes=_MAX_EVENT_BYTES)
    ctx = next((e for e in root if etree.QName(e).localname == "ctx"), None)
    address = event.mobile_phone if channel is ChannelName.SMS else event.email
    return _Recipient(
        None,
        f"event {pl_id}",
        address or "",
        event.external_id or "",
        etree.tostring(ctx, encoding="unicode") if ctx is not None else "<ctx/>",
    )


def _preview(state: ControlState, template_id: int, body: PreviewIn) -> PreviewOut:
    draft, seeds = _draft(state.db, template_id, body)
    if body.event_id is not None:
        recipient = _archived(state.db, draft.channel, body.event_id)
    elif body.seed_id is None and body.ctx is not None:
        recipient = _Recipient(None, None, "", "", body.ctx)
    elif seeds:
        recipient = _recipient(seeds[0])
    else:
        recipient = _Recipient(None, None, "", "", "<ctx/>")
    fields = render_for(state.engine, draft, recipient)
    return PreviewOut(
        channel=draft.channel, to=recipient.address, seed=recipient.label, fields=fields
    )


async def preview_template(*, state: ControlState, template_id: int, body: PreviewIn) -> PreviewOut:
    """Render the draft (or a version) with a seed address; errors carry their line."""
    return await run_in_threadpool(_preview, state, template_id, body)


def _message(draft: _Draft, recipient: _Recipient, out: dict[str, str]) -> DeliveryMessage:
    common = {
        "id": f"proof-{uuid.uuid4().hex}",
        "event_id": 0,
        "event_type": draft.event_type,
        "channel": draft.channel.value,
        "to": recipient.address,
        "template_version": draft.version,
        "proof": True,
    }
    if draft.channel is ChannelName.EMAIL:
        return DeliveryMessage(
            subject=out["subject"],
            html=out["html"],
            text=out["text"],
            from_name=out["from_name"],
            from_address=out["from_address"],
            reply_to=out["reply_to"],
            **common,  # type: ignore[arg-type]
        )
    if draft.channel is ChannelName.SMS:
        return DeliveryMessage(text=out["text"], **common)  # type: ignore[arg-type]
    return DeliveryMessage(
        title=out["title"],
        text=out["body"],
        data=out["data"].strip(),
        **common,  # type: ignore[arg-type]
    )


def _proof_part(
    state: ControlState, template_id: int, seed_ids: list[int] | None
) -> tuple[DeliveryPart, list[_Recipient]]:
    draft, seeds = _draft(state.db, template_id, None)
    if seed_ids is not None:
        wanted = set(seed_ids)
        missing = wanted - {seed.id for seed in seeds}
        if missing:
            raise NotFound(f"template {template_id} has no seed address {sorted(missing)[0]}")
        seeds = [seed for seed in seeds if seed.id in wanted]
    if not seeds:
        raise InvalidRequest("the template has no seed address: add one to send a proof")
    recipients = [_recipient(seed) for seed in seeds]
    messages = [
        _message(draft, recipient, render_for(state.engine, draft, recipient))
        for recipient in recipients
    ]
    part = DeliveryPart(id=f"proof-{uuid.uuid4().hex}", instance=0, queue="rt", messages=messages)
    return part, recipients


def _record_proofs(
    db: Database, template_id: int, part: DeliveryPart, recipients: list[_Recipient], actor: str
) -> None:
    now = utc_now()
    with db.transaction(write=True) as session:
        for message, recipient in zip(part.messages, recipients, strict=True):
            session.add(
                Proof(
                    template_id=template_id,
                    seed_label=recipient.label or "",
                    address=recipient.address,
                    message_id=message.id,
                    part_id=part.id,
                    sent_at=now,
                    sent_by=actor,
                )
            )


async def send_proof(
    *, state: ControlState, template_id: int, body: ProofIn, actor: str
) -> ProofOut:
    """Render the draft for each seed address and hand the proofs to mid-sourcing."""
    part, recipients = await run_in_threadpool(_proof_part, state, template_id, body.seed_ids)
    settings = state.settings
    client = DeliveryClient(
        state.http,
        url=settings.midsourcing_url,
        login=settings.midsourcing_login,
        password=settings.midsourcing_password or "",
    )
    try:
        outcome = await client.append_delivery_part(part, retry=False)
    except DeliveryClientError as exc:
        raise UpstreamUnavailable(
            "the proof cannot be handed to mid-sourcing", detail=str(exc)
        ) from None
    if outcome.fatal_error:
        raise UpstreamUnavailable(
            "mid-sourcing refused the proof", detail=outcome.fatal_error_message
        )
    await run_in_threadpool(_record_proofs, state.db, template_id, part, recipients, actor)
    return ProofOut(
        part_id=part.id,
        messages=[
            ProofMessage(
                seed_id=recipient.seed_id or 0,
                seed=recipient.label or "",
                to=recipient.address,
                message_id=message.id,
            )
            for message, recipient in zip(part.messages, recipients, strict=True)
        ],
    )


def list_proofs(*, db: Database, template_id: int, page: PageParams) -> Page[ProofRecord]:
    """Return a page of the proofs sent for a template, newest first."""
    with db.transaction() as session:
        get_template(session, template_id)
        statement = select(Proof).where(Proof.template_id == template_id).order_by(Proof.id.desc())
        rows, total = fetch_page(session, statement, page)
    items = [
        ProofRecord(
            id=row.id,
            seed=row.seed_label,
            to=row.address,
            message_id=row.message_id,
            part_id=row.part_id,
            sent_at=row.sent_at,
            sent_by=row.sent_by,
        )
        for row in rows
    ]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)
