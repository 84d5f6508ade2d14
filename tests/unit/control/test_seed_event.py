"""The console's test event: the PushEvent envelope it sends and how it reads the answer."""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from control_instance.templates.content import ChannelName
from control_instance.templates.seed_event import _envelope, _pl_id
from control_instance.templates.seeds import parse_ctx
from control_instance.templates.testing import event_attributes
from services.errors import Conflict, UpstreamUnavailable
from services.soap.envelope import read_call


def test_the_envelope_is_a_push_event_with_the_seed_as_event_and_no_session_token() -> None:
    attributes = event_attributes("ORDER", ChannelName.SMS, "+447700900123", "c-1")
    event = etree.Element("rtEvent", attributes)
    event.append(parse_ctx("<ctx><order id='7'>A &amp; B</order></ctx>"))
    call = read_call(_envelope(event), soap_action="nms:rtEvent#PushEvent")
    assert call.action == "nms:rtEvent#PushEvent"
    assert call.session_token == ""
    sent = call.document(1)
    assert sent is not None and sent.tag == "rtEvent"
    assert dict(sent.attrib) == {
        "type": "ORDER",
        "wishedChannel": "1",
        "mobilePhone": "+447700900123",
        "externalId": "c-1",
    }
    assert sent.findtext("ctx/order") == "A & B" and sent.find("ctx/order").get("id") == "7"


def _answer(body: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=body.encode())


def test_the_answer_gives_the_pl_id_and_a_fault_is_refused_in_its_words() -> None:
    ok = (
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>"
        "<SOAP-ENV:Body><PushEventResponse xmlns='urn:nms:rtEvent'>"
        "<plId>72057594037927937</plId></PushEventResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
    assert _pl_id(_answer(ok)) == 72057594037927937
    fault = (
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>"
        "<SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>SOAP-ENV:Client</faultcode>"
        "<faultstring>Unknown event type 'X'</faultstring><detail>publish it</detail>"
        "</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
    with pytest.raises(Conflict, match="refused the event: Unknown event type 'X'") as refused:
        _pl_id(_answer(fault, 500))
    assert refused.value.detail == "publish it"
    with pytest.raises(UpstreamUnavailable, match="HTTP 502 without a SOAP envelope"):
        _pl_id(_answer("Bad gateway", 502))
