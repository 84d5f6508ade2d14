"""Delivery documents read inside SOAP method elements inherit their default namespace."""

from __future__ import annotations

from lxml import etree

from services.delivery_protocol import (
    DeliveryLog,
    DeliveryMessage,
    DeliveryPart,
    LogStatus,
    parse_delivery_logs,
    parse_delivery_part,
    render_delivery_logs,
    render_delivery_part,
)


def _inside_default_namespace(element: etree._Element) -> etree._Element:
    text = etree.tostring(element, encoding="unicode")
    wrapper = etree.fromstring(
        f"<AppendDeliveryPart xmlns='urn:nms:delivery'>{text}</AppendDeliveryPart>"
    )
    inner = wrapper[0]
    assert etree.QName(inner).namespace == "urn:nms:delivery"
    return inner


def test_a_part_in_a_default_namespace_keeps_its_messages() -> None:
    message = DeliveryMessage(
        id="1-5",
        event_id=5,
        event_type="T",
        channel="email",
        to="a@b.c",
        subject="S",
        text="T",
        html="<p>H</p>",
        from_name="N",
        from_address="f@b.c",
        reply_to="r@b.c",
    )
    part = DeliveryPart(id="p", instance=1, queue="rt", messages=[message])
    parsed = parse_delivery_part(_inside_default_namespace(render_delivery_part(part)))
    assert parsed == part


def test_logs_in_a_default_namespace_are_read() -> None:
    log = DeliveryLog(seq=3, message_id="1-5", event_id=5, status=LogStatus.SENT, text="250")
    parsed = parse_delivery_logs(_inside_default_namespace(render_delivery_logs([log])))
    assert [(p.seq, p.message_id, p.status) for p in parsed] == [(3, "1-5", LogStatus.SENT)]
