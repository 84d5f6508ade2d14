"""A zeep client generated from mcsim's WSDLs talks to mcsim's envelope reader and renderer."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault

from services.errors import Forbidden, McsimError, SessionExpired, UnknownMethod
from services.soap.envelope import Output, SoapReply, read_call, render_fault, render_response
from services.soap.schemas import compiled_schema
from services.soap.wsdl import list_schemas, render_wsdl, router_url

PUBLIC_URL = "http://lb.example:8080"
OPERATIONS = {
    "nms:rtEvent": {"PushEvent", "PushEvents"},
    "nms:batchEvent": {"PushEvent", "PushEvents"},
    "xtk:session": {
        "Logon",
        "BearerTokenLogon",
        "Logoff",
        "GetServerTime",
        "GetUserInfo",
        "GetOption",
        "GetModifiedEntities",
    },
    "xtk:persist": {"GetEntityIfMoreRecent"},
    "xtk:queryDef": {"ExecuteQuery"},
    "nms:delivery": {"AppendDeliveryPart", "GetDeliveryLogs"},
}


def client_for(schema: str) -> zeep.Client:
    wsdl = render_wsdl(schema, public_url=PUBLIC_URL)
    return zeep.Client(io.BytesIO(wsdl), settings=zeep.Settings(strict=True))


def request_bytes(client: zeep.Client, operation: str, **values: Any) -> bytes:
    return bytes(etree.tostring(client.create_message(client.service, operation, **values)))


def soap_action(client: zeep.Client, operation: str) -> str:
    return str(client.service._binding.get(operation).soapaction)


def parse_reply(client: zeep.Client, operation: str, reply: SoapReply) -> Any:
    """Feed a rendered reply to zeep's own response handling, as if it came over HTTP."""
    response = requests.Response()
    response.status_code = reply.status_code
    response._content = reply.body
    response.headers["Content-Type"] = reply.media_type
    response.encoding = "utf-8"
    binding = client.service._binding
    return binding.process_reply(client, binding.get(operation), response)


def test_every_schema_has_a_wsdl() -> None:
    assert set(list_schemas()) == set(OPERATIONS)


@pytest.mark.parametrize("schema", sorted(OPERATIONS))
def test_zeep_reads_each_wsdl(schema: str) -> None:
    client = client_for(schema)
    assert client.service._binding_options["address"] == router_url(PUBLIC_URL)
    assert router_url(PUBLIC_URL) == "http://lb.example:8080/nl/jsp/soaprouter.jsp"
    operations = client.service._binding._operations
    assert set(operations) == OPERATIONS[schema]
    for name, operation in operations.items():
        assert operation.soapaction == f"{schema}#{name}"
        assert operation.style == "document"
        assert operation.input.body.qname.namespace == f"urn:{schema}"


def test_zeep_push_event_request_is_read_positionally() -> None:
    client = client_for("nms:rtEvent")
    event = etree.fromstring(
        '<rtEvent type="PASSWORD_RESET" email="a@example.com"><ctx/></rtEvent>'
    )
    body = request_bytes(client, "PushEvent", sessiontoken="mc/mc", domEvent={"_value_1": event})
    for action in (soap_action(client, "PushEvent"), None):
        call = read_call(body, soap_action=action)
        assert call.action == "nms:rtEvent#PushEvent"
        assert call.session_token == "mc/mc"
        document = call.document(1)
        assert document is not None
        assert (document.tag, document.get("email")) == ("rtEvent", "a@example.com")


def test_zeep_push_events_request_is_read_positionally() -> None:
    client = client_for("nms:batchEvent")
    events = etree.fromstring('<Events><batchEvent type="A"/><batchEvent type="B"/></Events>')
    body = request_bytes(
        client, "PushEvents", sessiontoken="", domEventCollection={"_value_1": events}
    )
    call = read_call(body, soap_action=soap_action(client, "PushEvents"))
    assert call.action == "nms:batchEvent#PushEvents"
    assert call.session_token == ""
    collection = call.document(1)
    assert collection is not None
    assert [e.get("type") for e in collection] == ["A", "B"]


def test_zeep_logon_request_is_read_positionally() -> None:
    client = client_for("xtk:session")
    body = request_bytes(
        client, "Logon", sessiontoken="", strLogin="mc", strPassword="p<&>w", elemParameters={}
    )
    call = read_call(body, soap_action=soap_action(client, "Logon"))
    assert call.action == "xtk:session#Logon"
    assert [call.text(i) for i in range(3)] == ["", "mc", "p<&>w"]
    assert len(call.params) == 4
    assert call.document(3) is None


def test_zeep_append_delivery_part_request_is_read_positionally() -> None:
    client = client_for("nms:delivery")
    part = etree.fromstring('<deliveryPart id="7"><message id="1"/></deliveryPart>')
    body = request_bytes(
        client,
        "AppendDeliveryPart",
        sessiontoken="mid/mid",
        deliveryPart={"_value_1": part},
        retry=True,
    )
    call = read_call(body)
    assert call.action == "nms:delivery#AppendDeliveryPart"
    assert call.text(2) == "true"
    document = call.document(1)
    assert document is not None
    assert document.get("id") == "7"


def test_zeep_get_delivery_logs_request_is_read_positionally_with_an_optional_instance() -> None:
    client = client_for("nms:delivery")
    action = soap_action(client, "GetDeliveryLogs")
    with_instance = request_bytes(
        client, "GetDeliveryLogs", sessiontoken="mid/mid", cursor="42", limit=100, instanceId=3
    )
    call = read_call(with_instance, soap_action=action)
    assert call.action == "nms:delivery#GetDeliveryLogs"
    assert [call.text(i) for i in range(4)] == ["mid/mid", "42", "100", "3"]
    without = request_bytes(client, "GetDeliveryLogs", sessiontoken="mid/mid", cursor="", limit=5)
    call = read_call(without, soap_action=action)
    assert len(call.params) == 3
    assert [call.text(i) for i in range(4)] == ["mid/mid", "", "5", ""]


def test_zeep_get_entity_if_more_recent_request_and_answer() -> None:
    client = client_for("xtk:persist")
    body = request_bytes(
        client,
        "GetEntityIfMoreRecent",
        sessiontoken="mc/mc",
        pk="xtk:schema|nms:rtEvent",
        md5="",
        mustExist=False,
    )
    call = read_call(body, soap_action=soap_action(client, "GetEntityIfMoreRecent"))
    assert call.action == "xtk:persist#GetEntityIfMoreRecent"
    assert [call.text(i) for i in range(4)] == ["mc/mc", "xtk:schema|nms:rtEvent", "", "false"]
    schema = compiled_schema("nms:rtEvent")
    assert schema is not None
    reply = render_response(
        "xtk:persist", "GetEntityIfMoreRecent", [Output.xml("pdomDoc", etree.fromstring(schema))]
    )
    document = parse_reply(client, "GetEntityIfMoreRecent", reply)
    assert (etree.QName(document).localname, document.get("name")) == ("schema", "rtEvent")
    assert document.find(".//{*}method").get("static") == "true"


def test_zeep_execute_query_sends_the_query_as_the_this_document() -> None:
    client = client_for("xtk:queryDef")
    query = etree.fromstring('<queryDef schema="nms:rtEvent" operation="get"/>')
    body = request_bytes(client, "ExecuteQuery", sessiontoken="mc/mc", entity={"_value_1": query})
    call = read_call(body, soap_action=soap_action(client, "ExecuteQuery"))
    assert call.action == "xtk:queryDef#ExecuteQuery"
    document = call.document(1)
    assert document is not None
    assert document.get("schema") == "nms:rtEvent"
    rows = etree.fromstring('<rtEvent-collection><rtEvent id="13"/></rtEvent-collection>')
    reply = render_response("xtk:queryDef", "ExecuteQuery", [Output.xml("pdomOutput", rows)])
    result = parse_reply(client, "ExecuteQuery", reply)
    assert etree.QName(result).localname == "rtEvent-collection"
    assert result[0].get("id") == "13"


def test_zeep_reads_plid_as_an_int() -> None:
    client = client_for("nms:rtEvent")
    pl_id = (1 << 56) | 8030
    reply = render_response("nms:rtEvent", "PushEvent", [Output.long("plId", pl_id)])
    assert parse_reply(client, "PushEvent", reply) == pl_id


def test_zeep_reads_one_plid_per_event_in_order() -> None:
    client = client_for("nms:batchEvent")
    ids = [(2 << 56) | n for n in (5, 3, 9)]
    reply = render_response("nms:batchEvent", "PushEvents", [Output.long("plId", i) for i in ids])
    assert parse_reply(client, "PushEvents", reply) == ids


def test_zeep_reads_the_logon_tokens_and_session_info() -> None:
    client = client_for("xtk:session")
    info = etree.fromstring('<sessionInfo><userInfo login="mc"/></sessionInfo>')
    reply = render_response(
        "xtk:session",
        "Logon",
        [
            Output.string("pstrSessionToken", "___8f0c2d1e-0000-4000-8000-000000000000"),
            Output.xml("pSessionInfo", info),
            Output.string("pstrSecurityToken", "@a+b/c=="),
        ],
    )
    result = parse_reply(client, "Logon", reply)
    assert result.pstrSessionToken == "___8f0c2d1e-0000-4000-8000-000000000000"
    assert result.pstrSecurityToken == "@a+b/c=="
    session_info = result.pSessionInfo._value_1
    assert etree.QName(session_info).localname == "sessionInfo"
    assert session_info[0].get("login") == "mc"


def test_zeep_reads_server_time_and_logoff() -> None:
    client = client_for("xtk:session")
    now = datetime(2026, 11, 28, 10, 0, 0, 250000, tzinfo=UTC)
    reply = render_response(
        "xtk:session", "GetServerTime", [Output.timestamp("ptmServerTime", now)]
    )
    assert parse_reply(client, "GetServerTime", reply) == now
    assert parse_reply(client, "Logoff", render_response("xtk:session", "Logoff")) is None


def test_zeep_reads_the_delivery_answers() -> None:
    client = client_for("nms:delivery")
    appended = render_response(
        "nms:delivery",
        "AppendDeliveryPart",
        [
            Output.long("deliveryPartId", 42),
            Output.integer("fatalError", 0),
            Output.string("fatalErrorMsg", ""),
        ],
    )
    result = parse_reply(client, "AppendDeliveryPart", appended)
    assert (result.deliveryPartId, result.fatalError) == (42, 0)
    assert result.fatalErrorMsg in ("", None)
    logs = etree.fromstring('<deliveryLogs><log id="1" status="sent"/></deliveryLogs>')
    pulled = render_response(
        "nms:delivery",
        "GetDeliveryLogs",
        [Output.xml("deliveryLogs", logs), Output.string("nextCursor", "c-2")],
    )
    result = parse_reply(client, "GetDeliveryLogs", pulled)
    assert result.nextCursor == "c-2"
    assert result.deliveryLogs._value_1[0].get("status") == "sent"


@pytest.mark.parametrize(
    "error",
    [
        SessionExpired(
            "Session has expired or is invalid. Please reconnect.",
            detail="A token from another instance ]]> <use login/password> & retry",
        ),
        UnknownMethod("The method 'Nope' is not defined in SOAP service 'nms:rtEvent'."),
        Forbidden("Access denied", detail="XSV-350013 The '10.0.0.1' IP address is refused."),
    ],
)
def test_zeep_raises_our_faults_with_code_string_and_detail(error: McsimError) -> None:
    client = client_for("nms:rtEvent")
    with pytest.raises(Fault) as caught:
        parse_reply(client, "PushEvent", render_fault(error))
    assert caught.value.code == error.fault_code
    assert caught.value.message == error.fault_string
    if error.detail is None:
        assert caught.value.detail is None
    else:
        assert caught.value.detail.text == error.detail
