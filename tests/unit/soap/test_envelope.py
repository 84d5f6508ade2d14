"""Reading SOAP requests: envelope versions, where the method comes from, positional parameters."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from services.errors import HostileXml, MalformedXml, PayloadTooLarge
from services.soap.envelope import SoapVersion, parse_action, read_call

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"

# Campaign's own samples (campaign-facts §1.3): SoapUI style, prefixed parameters.
SOAPUI_PUSH_EVENT = b"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:urn="urn:nms:rtEvent">
 <soapenv:Header/>
 <soapenv:Body>
  <urn:PushEvent>
   <urn:sessiontoken>SESSION_TOKEN</urn:sessiontoken>
   <urn:domEvent>
     <rtEvent type="type" email="name@domain.com"/>
   </urn:domEvent>
  </urn:PushEvent>
 </soapenv:Body>
</soapenv:Envelope>"""

# The load-balanced form: default namespace, unprefixed parameters, login/password as token.
UNPREFIXED_PUSH_EVENT = b"""<?xml version="1.0" encoding="utf-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">
<SOAP-ENV:Body>
<PushEvent xmlns="urn:nms:rtEvent">
<sessiontoken>mc/PASSWORD</sessiontoken>
<domEvent>
<rtEvent wishedChannel="41" type="rt_push" registrationToken="c3dd" xmlns="">
<mobileApp uuid="236B24DC" _operation="none"/>
<ctx><a>1</a></ctx>
</rtEvent>
</domEvent>
</PushEvent>
</SOAP-ENV:Body>
</SOAP-ENV:Envelope>"""


def envelope(method: str, *, env: str = SOAP11, namespace: str | None = "urn:nms:rtEvent") -> bytes:
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return (
        f'<e:Envelope xmlns:e="{env}"><e:Body><{method}{xmlns}>'
        f"<sessiontoken>tok</sessiontoken><domEvent><rtEvent type='A'/></domEvent>"
        f"</{method}></e:Body></e:Envelope>"
    ).encode()


def test_reads_campaigns_soapui_sample() -> None:
    call = read_call(SOAPUI_PUSH_EVENT, soap_action='"nms:rtEvent#PushEvent"')
    assert (call.service, call.method, call.action) == (
        "nms:rtEvent",
        "PushEvent",
        "nms:rtEvent#PushEvent",
    )
    assert call.version is SoapVersion.SOAP11
    assert len(call.params) == 2
    assert call.session_token == "SESSION_TOKEN"
    event = call.document(1)
    assert event is not None
    assert event.tag == "rtEvent"
    assert event.get("email") == "name@domain.com"
    assert call.header is not None
    assert call.header.tag == f"{{{SOAP11}}}Header"
    assert call.method_element.tag == "{urn:nms:rtEvent}PushEvent"


def test_reads_the_unprefixed_load_balanced_form_from_the_body_alone() -> None:
    call = read_call(UNPREFIXED_PUSH_EVENT)
    assert (call.service, call.method) == ("nms:rtEvent", "PushEvent")
    assert call.session_token == "mc/PASSWORD"
    assert call.header is None
    event = call.document(1)
    assert event is not None
    assert event.get("registrationToken") == "c3dd"
    assert event.find("mobileApp") is not None


def test_reads_a_soap_12_envelope() -> None:
    call = read_call(envelope("PushEvents", env=SOAP12))
    assert call.version is SoapVersion.SOAP12
    assert (call.service, call.method) == ("nms:rtEvent", "PushEvents")
    assert call.session_token == "tok"


@pytest.mark.parametrize(
    "header",
    [
        '"nms:batchEvent#PushEvent"',
        "nms:batchEvent#PushEvent",
        "urn:nms:batchEvent#PushEvent",
        '"urn:nms:batchEvent#PushEvent"',
        "  'nms:batchEvent#PushEvent' ",
    ],
)
def test_soapaction_header_names_the_method_in_every_form(header: str) -> None:
    call = read_call(envelope("PushEvents"), soap_action=header)
    assert (call.service, call.method) == ("nms:batchEvent", "PushEvent")


@pytest.mark.parametrize("header", ["", '""', "PushEvent", "http://tempuri.org/PushEvent", "a#b"])
def test_unusable_soapaction_falls_back_to_the_body(header: str) -> None:
    call = read_call(envelope("PushEvents"), soap_action=header)
    assert (call.service, call.method) == ("nms:rtEvent", "PushEvents")


def test_soapaction_query_parameter_names_the_method() -> None:
    query = parse_qs("soapAction=nms:batchEvent%23PushEvents")
    call = read_call(envelope("PushEvent"), query_action=query["soapAction"][0])
    assert (call.service, call.method) == ("nms:batchEvent", "PushEvents")


def test_header_wins_over_query_and_content_type_over_query() -> None:
    body = envelope("PushEvent")
    both = read_call(
        body, soap_action="xtk:session#Logon", query_action="nms:batchEvent#PushEvents"
    )
    assert both.action == "xtk:session#Logon"
    typed = read_call(
        body,
        content_type='application/soap+xml; charset=utf-8; action="nms:batchEvent#PushEvent"',
        query_action="xtk:session#Logoff",
    )
    assert typed.action == "nms:batchEvent#PushEvent"


def test_content_type_without_action_is_ignored() -> None:
    call = read_call(envelope("PushEvent"), content_type="text/xml; charset=utf-8")
    assert call.action == "nms:rtEvent#PushEvent"


def test_parameters_are_positional_whatever_their_names_and_prefixes() -> None:
    body = b"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
        xmlns:urn="urn:nms:rtEvent"><s:Body><urn:PushEvent>
        <!-- a comment is not a parameter -->
        <urn:token>mc/</urn:token>
        <domDoc><rtEvent type="A"/></domDoc>
        </urn:PushEvent></s:Body></s:Envelope>"""
    call = read_call(body)
    assert [p.tag for p in call.params] == ["{urn:nms:rtEvent}token", "domDoc"]
    assert call.text(0) == "mc/"
    document = call.document(1)
    assert document is not None
    assert document.get("type") == "A"


def test_missing_parameters_read_as_empty() -> None:
    body = (
        f'<e:Envelope xmlns:e="{SOAP11}"><e:Body><GetServerTime xmlns="urn:xtk:session"/>'
        "</e:Body></e:Envelope>"
    ).encode()
    call = read_call(body)
    assert call.action == "xtk:session#GetServerTime"
    assert call.params == ()
    assert call.session_token == ""
    assert call.text(3) == ""
    assert call.document(1) is None


def test_empty_xml_parameter_has_no_document() -> None:
    body = (
        f'<e:Envelope xmlns:e="{SOAP11}"><e:Body><Logon xmlns="urn:xtk:session">'
        "<sessiontoken/><strLogin>mc</strLogin><strPassword>p&amp;w</strPassword>"
        "<elemParameters/></Logon></e:Body></e:Envelope>"
    ).encode()
    call = read_call(body)
    assert [call.text(i) for i in range(3)] == ["", "mc", "p&w"]
    assert call.document(3) is None


def test_method_without_namespace_needs_a_soapaction() -> None:
    body = envelope("PushEvent", namespace=None)
    with pytest.raises(MalformedXml) as caught:
        read_call(body)
    assert "PushEvent" in (caught.value.detail or "")
    assert read_call(body, soap_action="nms:rtEvent#PushEvent").method == "PushEvent"


def test_method_in_a_non_campaign_namespace_needs_a_soapaction() -> None:
    with pytest.raises(MalformedXml):
        read_call(envelope("PushEvent", namespace="http://tempuri.org/"))


def test_a_document_that_is_not_an_envelope_is_malformed() -> None:
    with pytest.raises(MalformedXml) as caught:
        read_call(b"<rtEvent type='A'/>", soap_action="nms:rtEvent#PushEvent")
    assert "rtEvent" in (caught.value.detail or "")
    assert "not a SOAP Envelope" in (caught.value.detail or "")


def test_an_envelope_in_the_wrong_namespace_is_malformed() -> None:
    with pytest.raises(MalformedXml) as caught:
        read_call(envelope("PushEvent", env="http://example.com/soap/"))
    assert "http://example.com/soap/" in (caught.value.detail or "")


def test_an_envelope_without_body_or_with_an_empty_body_is_malformed() -> None:
    with pytest.raises(MalformedXml) as no_body:
        read_call(f'<e:Envelope xmlns:e="{SOAP11}"><e:Header/></e:Envelope>'.encode())
    assert "no Body" in (no_body.value.detail or "")
    with pytest.raises(MalformedXml) as empty:
        read_call(
            f'<e:Envelope xmlns:e="{SOAP11}"><e:Body> <!-- x --> </e:Body></e:Envelope>'.encode()
        )
    assert "empty" in (empty.value.detail or "")


def test_malformed_xml_is_reported_in_campaigns_words() -> None:
    body = SOAPUI_PUSH_EVENT.replace(b"</urn:domEvent>", b"</urn:domevent>")
    with pytest.raises(MalformedXml) as caught:
        read_call(body, soap_action="nms:rtEvent#PushEvent")
    # Campaign's text swaps service and method; mcsim reproduces it (campaign-facts §1.6).
    assert caught.value.message == (
        "The XML SOAP message is invalid (service 'PushEvent', method 'nms:rtEvent')."
    )
    assert caught.value.detail is not None
    assert caught.value.detail.startswith("(9:")
    assert "domEvent" in caught.value.detail
    with pytest.raises(MalformedXml) as unnamed:
        read_call(b"<a>")
    assert unnamed.value.message == "The XML SOAP message is invalid."


def test_hostile_and_oversized_requests_keep_their_error() -> None:
    with pytest.raises(HostileXml):
        read_call(b"<!DOCTYPE e><e/>", soap_action="nms:rtEvent#PushEvent")
    with pytest.raises(PayloadTooLarge):
        read_call(SOAPUI_PUSH_EVENT, max_bytes=100)
    deep = SOAPUI_PUSH_EVENT.replace(b"<rtEvent", b"<x><x><x><rtEvent").replace(
        b"</urn:domEvent>", b"</x></x></x></urn:domEvent>"
    )
    assert read_call(deep, max_depth=8).method == "PushEvent"
    with pytest.raises(HostileXml):
        read_call(deep, max_depth=7)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nms:rtEvent#PushEvent", ("nms:rtEvent", "PushEvent")),
        ('"urn:xtk:session#Logon"', ("xtk:session", "Logon")),
        (None, None),
        ("", None),
        ("nms:rtEvent#", None),
        ("#PushEvent", None),
        ("rtEvent#PushEvent", None),
        ("nms:rtEvent#Push Event", None),
        ("nms:rt<Event#PushEvent", None),
    ],
)
def test_parse_action(value: str | None, expected: tuple[str, str] | None) -> None:
    assert parse_action(value) == expected
