"""Helpers of the mid-sourcing integration tests: parts, envelopes, and waiting for outcomes."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from services.delivery_protocol import (
    DeliveryLog,
    DeliveryMessage,
    DeliveryPart,
    parse_delivery_logs,
    render_delivery_part,
)
from services.plid import make_pl_id
from tests.support.soap import SOAP11, outputs_of

ROUTER = "/nl/jsp/soaprouter.jsp"
_numbers = itertools.count(1)


def email(to: str, *, instance: int = 1, **fields: Any) -> DeliveryMessage:
    """Return an email message of ``instance`` with a fresh cell-unique id."""
    pk = next(_numbers)
    values: dict[str, Any] = {
        "id": f"{instance}-{pk}",
        "event_id": make_pl_id(instance, pk),
        "event_type": "PASSWORD_RESET",
        "channel": "email",
        "to": to,
        "subject": "Reset your password",
        "text": "Hello\n",
        "html": "<p>Hello</p>",
        "from_name": "Acme",
        "from_address": "noreply@acme.test",
        "reply_to": "help@acme.test",
        "template_version": 1,
    }
    values.update(fields)
    return DeliveryMessage(**values)


def sms(to: str, *, instance: int = 1, **fields: Any) -> DeliveryMessage:
    """Return an SMS message."""
    values: dict[str, Any] = {"channel": "sms", "subject": "", "html": "", "text": "Code: 1234"}
    values.update(fields)
    return email(to, instance=instance, **values)


def push(token: str, *, channel: str = "ios", instance: int = 1, **fields: Any) -> DeliveryMessage:
    """Return a push message."""
    values: dict[str, Any] = {
        "channel": channel,
        "subject": "",
        "html": "",
        "title": "Order shipped",
        "text": "Your order is on its way",
        "app": "com.acme.app",
        "data": '{"orderId": "42"}',
    }
    values.update(fields)
    return email(token, instance=instance, **values)


def part(*messages: DeliveryMessage, part_id: str | None = None, instance: int = 1) -> DeliveryPart:
    """Return a delivery part holding ``messages``."""
    return DeliveryPart(
        id=part_id or f"exec{instance}-part-{next(_numbers)}",
        instance=instance,
        queue="rt",
        messages=list(messages),
    )


def envelope(service: str, method: str, params: list[tuple[str, str]]) -> str:
    """Return a SoapUI-style envelope; each parameter is a name and its inner XML."""
    inner = "".join(f"<urn:{name}>{value}</urn:{name}>" for name, value in params)
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP11}" xmlns:urn="urn:{service}">'
        f"<soapenv:Header/><soapenv:Body><urn:{method}>{inner}</urn:{method}>"
        "</soapenv:Body></soapenv:Envelope>"
    )


def append_envelope(delivery_part: DeliveryPart | str, *, token: str = "mid/mid") -> str:
    """Return an ``AppendDeliveryPart`` envelope."""
    document = (
        delivery_part
        if isinstance(delivery_part, str)
        else etree.tostring(render_delivery_part(delivery_part), encoding="unicode")
    )
    return envelope(
        "nms:delivery",
        "AppendDeliveryPart",
        [("sessiontoken", escape(token)), ("deliveryPart", document), ("retry", "false")],
    )


def logs_envelope(
    *, token: str = "mid/mid", cursor: str = "", limit: int | str = 100, instance: int | None = None
) -> str:
    """Return a ``GetDeliveryLogs`` envelope."""
    params = [("sessiontoken", escape(token)), ("cursor", escape(cursor)), ("limit", str(limit))]
    if instance is not None:
        params.append(("instanceId", str(instance)))
    return envelope("nms:delivery", "GetDeliveryLogs", params)


async def soap(client: httpx.AsyncClient, body: str, **headers: str) -> httpx.Response:
    """POST an envelope to the SOAP router."""
    sent = {"content-type": "text/xml; charset=utf-8", **headers}
    return await client.post(ROUTER, content=body.encode(), headers=sent)


async def append(
    client: httpx.AsyncClient, delivery_part: DeliveryPart, *, token: str = "mid/mid"
) -> int:
    """Submit a part; return its ``deliveryPartId`` (the call must succeed)."""
    response = await soap(client, append_envelope(delivery_part, token=token))
    assert response.status_code == 200, response.text
    assert outputs_of(response.content, "fatalError") == ["0"], response.text
    return int(outputs_of(response.content, "deliveryPartId")[0])


def read_logs(body: bytes) -> tuple[list[DeliveryLog], str]:
    """Return the logs and the next cursor of a GetDeliveryLogs response."""
    root = etree.fromstring(body)
    holder = next(e for e in root.iter() if etree.QName(e).localname == "deliveryLogs")
    logs_element = holder[0] if len(holder) else holder
    return parse_delivery_logs(logs_element), outputs_of(body, "nextCursor")[0]


async def pull_logs(
    client: httpx.AsyncClient, *, instance: int | None = None, cursor: str = ""
) -> tuple[list[DeliveryLog], str]:
    """Read every log after ``cursor``; return them and the last cursor."""
    logs: list[DeliveryLog] = []
    while True:
        response = await soap(client, logs_envelope(cursor=cursor, instance=instance))
        assert response.status_code == 200, response.text
        page, cursor = read_logs(response.content)
        logs.extend(page)
        if not page:
            return logs, cursor


async def settle(client: httpx.AsyncClient, total: int, *, within: float = 15.0) -> dict[str, int]:
    """Wait until ``total`` messages are captured and none is queued or being sent."""
    deadline = time.monotonic() + within
    while True:
        counts = (await client.get("/api/v1/messages/counts")).json()
        by_status: dict[str, int] = counts["byStatus"]
        busy = by_status.get("queued", 0) + by_status.get("sending", 0)
        if counts["total"] >= total and busy == 0:
            return by_status
        if time.monotonic() > deadline:
            raise TimeoutError(f"messages not settled: {counts}")
        await asyncio.sleep(0.02)


async def final_logs(
    client: httpx.AsyncClient, instance: int | None = None
) -> dict[str, DeliveryLog]:
    """Return the final log of each message id (pending logs skipped)."""
    logs, _ = await pull_logs(client, instance=instance)
    return {log.message_id: log for log in logs if log.status.final}


async def message_of(client: httpx.AsyncClient, message_id: str) -> dict[str, Any]:
    """Return the captured message with this delivery message id, in detail."""
    page = (await client.get("/api/v1/messages", params={"messageId": message_id})).json()
    assert page["total"] == 1, page
    detail = await client.get(f"/api/v1/messages/{page['messages'][0]['id']}")
    assert detail.status_code == 200
    result: dict[str, Any] = detail.json()
    return result
