"""``mcsim send``: push one event over SOAP through the load balancer, optionally wait for it.

The event is sent exactly as a website would send it (``PushEvent`` with ``login/password`` in
``<sessiontoken>``); with ``--wait`` its status is polled through the REST API (the load
balancer routes the ``PKey`` to the instance that holds the event) until it is final.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import httpx

from services.plid import instance_of

__all__ = ["SendRequest", "SendResult", "build_envelope", "send_event"]

FINAL = frozenset({"processed", "ignored", "deliveryFailed", "routingFailed", "tooOld"})
CHANNELS = {"email": "0", "sms": "1", "ios": "41", "android": "42"}


@dataclass(frozen=True)
class SendRequest:
    """What to send and where."""

    lb_url: str
    event_type: str
    channel: str = "email"
    email: str | None = None
    phone: str | None = None
    device_token: str | None = None
    app: str | None = None
    ctx: dict[str, str] = field(default_factory=dict)
    batch: bool = False
    credentials: str = "mc/mc"
    bearer: str = "mcsim-dev-token"
    organization: str = "acme"


@dataclass(frozen=True)
class SendResult:
    """What happened."""

    pl_id: int
    status: str | None = None
    error: str | None = None
    waited_s: float = 0.0

    @property
    def instance_id(self) -> int:
        """Return the execution instance that holds the event (the plId's high byte)."""
        return instance_of(self.pl_id)


def build_envelope(request: SendRequest) -> str:
    """Return the PushEvent envelope of ``request``."""
    element = "batchEvent" if request.batch else "rtEvent"
    attributes = {"type": request.event_type, "wishedChannel": CHANNELS[request.channel]}
    for name, value in (
        ("email", request.email),
        ("mobilePhone", request.phone),
        ("registrationToken", request.device_token),
    ):
        if value:
            attributes[name] = value
    rendered = " ".join(f"{k}={quoteattr(v)}" for k, v in attributes.items())
    app = f"<mobileApp uuid={quoteattr(request.app)}/>" if request.app else ""
    ctx = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in request.ctx.items())
    schema = "nms:batchEvent" if request.batch else "nms:rtEvent"
    return (
        "<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/' "
        f"xmlns:urn='urn:{schema}'><soapenv:Body><urn:PushEvent>"
        f"<urn:sessiontoken>{escape(request.credentials)}</urn:sessiontoken><urn:domEvent>"
        f"<{element} {rendered}>{app}<ctx>{ctx}</ctx></{element}>"
        "</urn:domEvent></urn:PushEvent></soapenv:Body></soapenv:Envelope>"
    )


def _read_answer(body: bytes) -> int:
    from lxml import etree  # here: mcsim up, which imports this module, parses no XML

    root = etree.fromstring(body)
    fault = root.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    if fault is not None:
        raise RuntimeError(
            f"{fault.findtext('faultstring') or 'fault'}: {fault.findtext('detail') or ''}".strip()
        )
    found = next((el.text for el in root.iter() if etree.QName(el).localname == "plId"), None)
    if found is None:
        raise RuntimeError("the answer holds no plId")
    return int(found)


async def send_event(request: SendRequest, *, wait: float | None) -> SendResult:
    """Send the event; with ``wait`` seconds, poll its status until it is final."""
    schema = "nms:batchEvent" if request.batch else "nms:rtEvent"
    async with httpx.AsyncClient(base_url=request.lb_url, timeout=10) as client:
        answer = await client.post(
            "/nl/jsp/soaprouter.jsp",
            content=build_envelope(request).encode(),
            headers={
                "content-type": "text/xml; charset=utf-8",
                "soapaction": f"{schema}#PushEvent",
            },
        )
        pl_id = _read_answer(answer.content)
        if wait is None:
            return SendResult(pl_id)
        org = request.organization
        href = f"/{org}/campaign/mc{org}/EVT{request.event_type}/{pl_id}"
        started = time.monotonic()
        status, error = "pending", None
        while time.monotonic() - started < wait:
            polled = await client.get(href, headers={"authorization": f"Bearer {request.bearer}"})
            if polled.status_code == 200:
                body = polled.json()
                status, error = body["status"], body.get("error")
                if status in FINAL:
                    break
            await asyncio.sleep(0.1)
        return SendResult(pl_id, status, error, round(time.monotonic() - started, 2))
