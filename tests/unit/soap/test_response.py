"""Rendering responses and faults: Campaign's shape, every type, escaping of any value."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from services.errors import (
    AuthenticationFailed,
    Forbidden,
    InvalidRequest,
    McsimError,
    Overloaded,
    PayloadTooLarge,
    SessionExpired,
    UnknownMethod,
)
from services.soap.envelope import Output, SoapVersion, render_fault, render_response
from services.soap.parser import parse_xml
from services.soap.response import escape_attr, escape_text

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
HOSTILE = [
    "]]>",
    "<rtEvent/>",
    "a & b",
    "&amp; stays literal",
    "'single' \"double\"",
    "<![CDATA[x]]>",
    "line\r\nbreak\ttab",
    "\u00e9\u65e5\U0001f600",
    "",
    "  padded  ",
]

# The real server's PushEvent answer (acc-js-sdk test fixture; campaign-facts §1.6).
CAMPAIGN_PUSH_EVENT_RESPONSE = b"""<?xml version='1.0'?>
<SOAP-ENV:Envelope xmlns:xsd='http://www.w3.org/2001/XMLSchema'
 xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xmlns:ns='urn:nms:rtEvent'
 xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>
<SOAP-ENV:Body>
<PushEventResponse xmlns='urn:nms:rtEvent'
 SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'>
<plId xsi:type='xsd:long'>72057594039155998</plId>
</PushEventResponse>
</SOAP-ENV:Body>
</SOAP-ENV:Envelope>"""


def canonical(document: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True)
    return etree.tostring(etree.fromstring(document, parser), method="c14n")


def response_element(body: bytes, env: str = SOAP11) -> etree._Element:
    root = parse_xml(body)
    assert root.tag == f"{{{env}}}Envelope"
    content = root.find(f"{{{env}}}Body")
    assert content is not None
    assert len(content) == 1
    return content[0]


def fault_parts(body: bytes) -> dict[str, str | None]:
    fault = response_element(body)
    assert fault.tag == f"{{{SOAP11}}}Fault"
    return {child.tag: child.text for child in fault}


def test_push_event_response_is_campaigns_document() -> None:
    reply = render_response("nms:rtEvent", "PushEvent", [Output.long("plId", 72057594039155998)])
    assert reply.status_code == 200
    assert reply.media_type == "text/xml; charset=utf-8"
    assert reply.body.startswith(b"<?xml version='1.0'?>\n<SOAP-ENV:Envelope ")
    assert canonical(reply.body) == canonical(CAMPAIGN_PUSH_EVENT_RESPONSE)


def test_response_round_trips_through_the_parser() -> None:
    reply = render_response(
        "nms:rtEvent", "PushEvents", [Output.long("plId", 1), Output.long("plId", 2**56 + 7)]
    )
    element = response_element(reply.body)
    assert element.tag == "{urn:nms:rtEvent}PushEventsResponse"
    assert element.get(f"{{{SOAP11}}}encodingStyle") == "http://schemas.xmlsoap.org/soap/encoding/"
    assert [(c.tag, c.text, c.get(XSI_TYPE)) for c in element] == [
        ("{urn:nms:rtEvent}plId", "1", "xsd:long"),
        ("{urn:nms:rtEvent}plId", str(2**56 + 7), "xsd:long"),
    ]
    assert element.getroottree().getroot().nsmap["ns"] == "urn:nms:rtEvent"


def test_logon_response_has_campaigns_shape() -> None:
    info = etree.fromstring(
        '<sessionInfo><serverInfo buildNumber="9219"/><userInfo login="mc"/></sessionInfo>'
    )
    reply = render_response(
        "xtk:session",
        "Logon",
        [
            Output.string("pstrSessionToken", "___6c1f"),
            Output.xml("pSessionInfo", info),
            Output.string("pstrSecurityToken", "@tok=="),
        ],
    )
    element = response_element(reply.body)
    assert element.tag == "{urn:xtk:session}LogonResponse"
    token, session_info, security = element
    assert (token.text, token.get(XSI_TYPE)) == ("___6c1f", "xsd:string")
    assert session_info.get(XSI_TYPE) == "ns:Element"
    # 'ns' is the service's URN, so ns:Element names the WSDL's Element type.
    assert session_info.nsmap["ns"] == "urn:xtk:session"
    assert session_info.get(f"{{{SOAP11}}}encodingStyle") == (
        "http://xml.apache.org/xml-soap/literalxml"
    )
    # As on the real server, the document inherits the response's default namespace.
    assert session_info[0].tag == "{urn:xtk:session}sessionInfo"
    assert session_info[0][1].get("login") == "mc"
    assert security.text == "@tok=="


def test_xml_output_leaves_out_the_elements_tail_and_may_be_empty() -> None:
    parent = etree.fromstring("<p><doc a='1'/>tail text</p>")
    reply = render_response(
        "nms:delivery",
        "GetDeliveryLogs",
        [Output.xml("deliveryLogs", parent[0]), Output.xml("x", None)],
    )
    logs, empty = response_element(reply.body)
    assert logs[0].get("a") == "1"
    assert logs[0].tail is None
    assert len(empty) == 0


def test_scalar_types() -> None:
    moment = datetime(2026, 11, 28, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    outputs = [
        Output.long("a", -(2**63)),
        Output.long("b", 2**63 - 1),
        Output.integer("c", -(2**31)),
        Output.boolean("d", True),
        Output.boolean("e", False),
        Output.timestamp("f", moment),
        Output.string("g", "text"),
    ]
    element = response_element(render_response("nms:delivery", "AppendDeliveryPart", outputs).body)
    assert [(c.text, c.get(XSI_TYPE)) for c in element] == [
        (str(-(2**63)), "xsd:long"),
        (str(2**63 - 1), "xsd:long"),
        (str(-(2**31)), "xsd:int"),
        ("true", "xsd:boolean"),
        ("false", "xsd:boolean"),
        ("2026-11-28T10:00:00.123Z", "xsd:dateTime"),
        ("text", "xsd:string"),
    ]


def test_out_of_range_and_naive_values_are_refused() -> None:
    with pytest.raises(ValueError, match="xsd:long"):
        Output.long("plId", 2**63)
    with pytest.raises(ValueError, match="xsd:int"):
        Output.integer("n", 2**31)
    with pytest.raises(ValueError, match="timezone"):
        Output.timestamp("t", datetime(2026, 1, 1))


@pytest.mark.parametrize("name", ["", "1abc", "a b", "a>b", "a'b"])
def test_bad_names_are_programming_errors(name: str) -> None:
    with pytest.raises(ValueError, match="not an XML element name"):
        Output.string(name, "x")
    with pytest.raises(ValueError, match="not an XML element name"):
        render_response("nms:rtEvent", name)


def test_bad_service_names_are_programming_errors() -> None:
    for service in ("rtEvent", "nms:rt'Event", "nms:rtEvent' x='1"):
        with pytest.raises(ValueError, match="not a Campaign service name"):
            render_response(service, "PushEvent")


@pytest.mark.parametrize("value", HOSTILE)
def test_any_string_round_trips(value: str) -> None:
    element = response_element(
        render_response("xtk:session", "X", [Output.string("v", value)]).body
    )
    assert (element[0].text or "") == value


def test_characters_xml_cannot_carry_are_replaced() -> None:
    value = "a\x00b\x1fc\ud800d\ufffee"
    element = response_element(
        render_response("xtk:session", "X", [Output.string("v", value)]).body
    )
    assert element[0].text == "a\ufffdb\ufffdc\ufffdd\ufffde"


@pytest.mark.parametrize("value", [*HOSTILE, "a\nb", "x\x01y"])
def test_escape_attr_round_trips_in_either_quote(value: str) -> None:
    expected = value.replace("\x01", "\ufffd")
    for quote in ("'", '"'):
        element = parse_xml(f"<a v={quote}{escape_attr(value)}{quote}/>".encode())
        assert element.get("v") == expected


def test_escape_text_leaves_plain_text_alone() -> None:
    plain = "mc/secret ___6c1f @tok== caf\u00e9"
    assert escape_text(plain) is plain
    assert escape_text("]]>") == "]]&gt;"


@pytest.mark.parametrize(
    ("error", "status", "code", "faultstring"),
    [
        (
            SessionExpired("Session has expired or is invalid. Please reconnect."),
            500,
            "SOAP-ENV:Client",
            "XSV-350008 Session has expired or is invalid. Please reconnect.",
        ),
        (
            AuthenticationFailed(
                "Error while reading parameters of method 'PushEvent' of service 'nms:rtEvent'."
            ),
            500,
            "SOAP-ENV:Client",
            "Error while reading parameters of method 'PushEvent' of service 'nms:rtEvent'.",
        ),
        (
            UnknownMethod("The method 'Push' is not defined in SOAP service 'nms:rtEvent'."),
            500,
            "SOAP-ENV:Client",
            "SOP-330006 The method 'Push' is not defined in SOAP service 'nms:rtEvent'.",
        ),
        (Forbidden("Access denied"), 403, "SOAP-ENV:Client", "Access denied"),
        (PayloadTooLarge("Too large"), 413, "SOAP-ENV:Client", "Too large"),
        (InvalidRequest("Bad event"), 500, "SOAP-ENV:Client", "Bad event"),
        (Overloaded("Queue full"), 500, "SOAP-ENV:Server", "Queue full"),
        (McsimError("Boom"), 500, "SOAP-ENV:Server", "Boom"),
    ],
)
def test_faults_carry_code_string_and_status(
    error: McsimError, status: int, code: str, faultstring: str
) -> None:
    error.detail = "Invalid login or password. Connection denied."
    reply = render_fault(error)
    assert reply.status_code == status
    assert reply.media_type == "text/xml; charset=utf-8"
    assert fault_parts(reply.body) == {
        "faultcode": code,
        "faultstring": faultstring,
        "detail": "Invalid login or password. Connection denied.",
    }


def test_fault_without_detail_has_no_detail_element() -> None:
    reply = render_fault(UnknownMethod("The method 'X' is not defined in SOAP service 'a:b'."))
    assert "detail" not in fault_parts(reply.body)


@pytest.mark.parametrize("detail", HOSTILE)
def test_fault_detail_and_string_survive_hostile_text(detail: str) -> None:
    reply = render_fault(InvalidRequest(f"bad {detail}", detail=detail))
    parts = fault_parts(reply.body)
    assert (parts["detail"] or "") == detail
    assert parts["faultstring"] == f"bad {detail}"


def test_soap12_response_and_fault() -> None:
    reply = render_response(
        "nms:rtEvent", "PushEvent", [Output.long("plId", 5)], version=SoapVersion.SOAP12
    )
    assert reply.media_type == "application/soap+xml; charset=utf-8"
    assert response_element(reply.body, SOAP12)[0].text == "5"
    fault = render_fault(
        SessionExpired("Session has expired.", detail="<x>"), version=SoapVersion.SOAP12
    )
    assert fault.status_code == 500
    element = response_element(fault.body, SOAP12)
    assert element.tag == f"{{{SOAP12}}}Fault"
    assert element.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value") == "SOAP-ENV:Sender"
    assert element.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text") == (
        "XSV-350008 Session has expired."
    )
    assert element.findtext(f"{{{SOAP12}}}Detail") == "<x>"
    server = response_element(
        render_fault(McsimError("x"), version=SoapVersion.SOAP12).body, SOAP12
    )
    assert server.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value") == "SOAP-ENV:Receiver"


def test_longs_render_as_the_same_outputs_one_by_one() -> None:
    values = [1, -(2**63), 2**63 - 1, 2**56 + 7]
    assert Output.longs("plId", values) == [Output.long("plId", v) for v in values]
    with pytest.raises(ValueError, match="xsd:long"):
        Output.longs("plId", [1, 2**63])
    with pytest.raises(ValueError, match="not an XML element name"):
        Output.longs("bad name", [1])
