"""Send a test event: a seed address pushed as a real event of the template's type (issue 18).

Unlike a proof, which goes straight to mid-sourcing, the event takes the website's path: it is
the seed as a preview renders it (its address, external id and ctx, the template's channel),
sent with ``nms:rtEvent#PushEvent`` to the cell's load balancer (``LOAD_BALANCER_URL``) or,
without one, to the first enabled execution instance. There the published template processes
it, mid-sourcing delivers its message, the history archives it.

The control instance calls as an integration under IMS does: with an access token, which it
signs itself (it is the cell's IMS) for the console operator, for one minute, with the Message
Center product profile; the execution instances verify it against its published keys.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from lxml import etree
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.service import list_targets
from control_instance.ims.tokens import issue_console_token
from control_instance.state import ControlState
from control_instance.tables import EventType, Seed
from control_instance.templates.content import ChannelName
from control_instance.templates.schemas import SeedEventIn, SeedEventOut
from control_instance.templates.seeds import get as get_seed
from control_instance.templates.seeds import parse_ctx
from control_instance.templates.service import get as get_template
from control_instance.templates.testing import event_attributes
from services.auth.ims import message_center_profile
from services.errors import Conflict, InvalidRequest, McsimError, UpstreamUnavailable
from services.soap.namespaces import SOAP11_ENV, service_namespace
from services.soap.parser import parse_xml

__all__ = ["send_seed_event"]

_TOKEN_SECONDS = 60
_TIMEOUT_SECONDS = 10.0
_ROUTER = "/nl/jsp/soaprouter.jsp"
_RT_EVENT = service_namespace("nms:rtEvent")


@dataclass(frozen=True)
class _Event:
    event_type: str
    seed: str
    to: str
    document: etree._Element


def _event(state: ControlState, template_id: int, seed_id: int | None) -> _Event:
    with state.db.transaction() as session:
        template = get_template(session, template_id)
        event_type = session.get(EventType, template.event_type_id)
        assert event_type is not None
        if seed_id is not None:
            seed: Seed | None = get_seed(session, template_id, seed_id)
        else:
            first = select(Seed).where(Seed.template_id == template_id).order_by(Seed.id).limit(1)
            seed = session.scalar(first)
        if seed is None:
            raise InvalidRequest("add a seed address first: the event is made of it")
        channel = ChannelName.of(template.channel)
        attributes = event_attributes(event_type.name, channel, seed.address, seed.external_id)
        event = etree.Element("rtEvent", attributes)
        event.append(parse_ctx(seed.ctx))
        return _Event(event_type.name, seed.label, seed.address, event)


def _envelope(event: etree._Element) -> bytes:
    envelope = etree.Element(f"{{{SOAP11_ENV}}}Envelope", nsmap={"soapenv": SOAP11_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP11_ENV}}}Body")
    push = etree.SubElement(body, f"{{{_RT_EVENT}}}PushEvent", nsmap={"urn": _RT_EVENT})
    etree.SubElement(push, f"{{{_RT_EVENT}}}sessiontoken")  # empty: the Bearer token stands in
    etree.SubElement(push, f"{{{_RT_EVENT}}}domEvent").append(event)
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def _pl_id(answer: httpx.Response) -> int:
    """Return the plId of a PushEvent answer; a SOAP fault is refused with its words."""
    try:
        root = parse_xml(answer.content)
    except McsimError:
        raise UpstreamUnavailable(
            f"the execution cell answered HTTP {answer.status_code} without a SOAP envelope"
        ) from None
    texts = {etree.QName(e).localname: (e.text or "").strip() for e in root.iter(etree.Element)}
    if "Fault" in texts:
        detail = texts.get("detail", "")
        raise Conflict(
            f"the execution cell refused the event: {texts.get('faultstring', 'a SOAP fault')}",
            detail=detail or None,
        )
    try:
        return int(texts["plId"])
    except (KeyError, ValueError):
        raise UpstreamUnavailable("the execution cell's answer holds no plId") from None


async def _router(state: ControlState) -> tuple[str, str]:
    """Return where to push: the load balancer, else the first enabled execution instance."""
    if state.settings.load_balancer_url:
        return state.settings.load_balancer_url.rstrip("/"), "the load balancer"
    targets = await run_in_threadpool(lambda: list_targets(state=state))
    if not targets:
        raise Conflict("no load balancer and no enabled execution instance to send the event to")
    return targets[0].url.rstrip("/"), f"execution instance {targets[0].name}"


async def send_seed_event(
    *, state: ControlState, template_id: int, body: SeedEventIn, actor: str
) -> SeedEventOut:
    """Push a seed address as a real event of the template's type through the execution cell."""
    event = await run_in_threadpool(_event, state, template_id, body.seed_id)
    base, through = await _router(state)
    settings = state.settings
    token = await run_in_threadpool(
        lambda: issue_console_token(
            keys=state.ims_keys,
            user=actor,
            profile=message_center_profile(settings.campaign_instance),
            issuer=settings.resolved_public_url,
            ttl_seconds=_TOKEN_SECONDS,
        )
    )
    try:
        answer = await state.http.post(
            base + _ROUTER,
            content=_envelope(event.document),
            headers={
                "content-type": "text/xml; charset=utf-8",
                "soapaction": "nms:rtEvent#PushEvent",
                "authorization": f"Bearer {token}",
            },
            timeout=_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(f"cannot reach {through} at {base}: {exc!r}") from None
    return SeedEventOut(
        pl_id=_pl_id(answer),
        event_type=event.event_type,
        seed=event.seed,
        to=event.to,
        sent_to=base + _ROUTER,
        through=through,
    )
