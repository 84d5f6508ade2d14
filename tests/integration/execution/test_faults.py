"""Every fault a caller can cause: clear, Campaign-worded, and nothing stored."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.execution.conftest import InstanceFactory, soap, stored_events
from tests.support.soap import event_xml, fault_of, push_event_envelope, push_events_envelope

PUSH = "nms:rtEvent#PushEvent"


@pytest.mark.parametrize(
    ("event", "field_words"),
    [
        (event_xml("NOPE"), ["unknown event type 'NOPE'", "ORDER_CONFIRMATION, PASSWORD_RESET"]),
        ('<rtEvent email="a@example.com"><ctx/></rtEvent>', ["'type'", "missing"]),
        (event_xml(email="ann@"), ["email address 'ann@' is not valid"]),
        (event_xml(wishedChannel="1"), ["'mobilePhone' is required for SMS"]),
        (event_xml(wishedChannel="1", mobilePhone="07700 900123"), ["E.164"]),
        (event_xml(wishedChannel="41"), ["registrationToken"]),
        (event_xml(wishedChannel="42", registrationId="abc"), ["mobileApp"]),
        (event_xml(wishedChannel="7"), ["wishedChannel '7'", "41 (iOS push)"]),
        (event_xml(emailFormat="9"), ["emailFormat '9'"]),
        (event_xml(scheduled="tomorrow"), ["scheduled", "'tomorrow' is not a date"]),
        (event_xml(expiration="2026-13-45 10:00:00Z"), ["expiration"]),
        ('<rtEvent type="PASSWORD_RESET" email="a@example.com"/>', ["<ctx> element is missing"]),
        ("<order/>", ["<order> is not an event"]),
    ],
)
async def test_invalid_events_are_refused_with_the_reason(
    client: httpx.AsyncClient, event: str, field_words: list[str]
) -> None:
    answer = await soap(client, push_event_envelope(event), action=PUSH)
    assert answer.status_code == 500
    fault = fault_of(answer.content)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert fault["faultstring"] == (
        "SOP-330011 Error while executing the method 'PushEvent' of service 'nms:rtEvent'."
    )
    for words in field_words:
        assert words in fault["detail"]
    assert stored_events(client) == []


async def test_a_missing_dom_event_is_named(client: httpx.AsyncClient) -> None:
    envelope = push_event_envelope().replace(
        push_event_envelope().split("<urn:domEvent>")[1].split("</urn:domEvent>")[0], ""
    )
    answer = await soap(client, envelope, action=PUSH)
    assert "domEvent" in fault_of(answer.content)["detail"]


async def test_unknown_methods_and_services(client: httpx.AsyncClient) -> None:
    answer = await soap(client, push_event_envelope(), action="nms:rtEvent#PushEvnt")
    fault = fault_of(answer.content)
    assert fault["faultstring"] == (
        "SOP-330006 The method 'PushEvnt' is not defined in SOAP service 'nms:rtEvent'."
    )
    assert "nms:rtEvent#PushEvent" in fault["detail"]
    other = await soap(client, push_event_envelope(), action="xtk:workflow#PostEvent")
    assert "SOP-330006" in fault_of(other.content)["faultstring"]
    assert stored_events(client) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><unclosed>",
        b"<Envelope><Body/></Envelope>",
        b"<s:Envelope xmlns:s='urn:not-soap'><s:Body><x/></s:Body></s:Envelope>",
    ],
)
async def test_malformed_envelopes_get_a_client_fault(
    client: httpx.AsyncClient, body: bytes
) -> None:
    answer = await client.post("/nl/jsp/soaprouter.jsp", content=body, headers={"SOAPAction": PUSH})
    assert answer.status_code == 500
    fault = fault_of(answer.content)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert "The XML SOAP message is invalid" in fault["faultstring"]
    assert stored_events(client) == []


async def test_dtds_and_entities_are_refused_before_any_expansion(
    client: httpx.AsyncClient, tmp_path: object
) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{"&lol" + str(i - 1) + ";" if i > 1 else "&lol;"}' * 10 + '">'
            for i in range(1, 10)
        )
        + "]>"
        + push_event_envelope(event_xml(ctx="<a>&lol9;</a>"))
    )
    answer = await soap(client, laughs, action=PUSH)
    assert answer.status_code == 500
    assert (
        "DTD" in fault_of(answer.content)["detail"]
        or "DOCTYPE" in fault_of(answer.content)["detail"]
    )
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY file SYSTEM "file:///etc/passwd">]>'
        + push_event_envelope(event_xml(ctx="<a>&file;</a>"))
    )
    answer = await soap(client, xxe, action=PUSH)
    assert answer.status_code == 500
    assert "root:" not in answer.text
    assert stored_events(client) == []


async def test_size_and_count_limits(make_instance: InstanceFactory) -> None:
    async with make_instance(
        max_body_bytes=4096, max_ctx_bytes=200, max_events_per_call=3
    ) as client:
        big = await soap(client, push_event_envelope(event_xml(ctx="<a>" + "x" * 5000 + "</a>")))
        assert big.status_code == 413
        assert "limit of 4096" in fault_of(big.content)["faultstring"]
        # Limits on what a call holds are faults like any other (HTTP 500), naming the limit.
        ctx = await soap(client, push_event_envelope(event_xml(ctx="<a>" + "x" * 300 + "</a>")))
        assert ctx.status_code == 500
        fault = fault_of(ctx.content)
        assert fault["faultcode"] == "SOAP-ENV:Client"
        assert fault["faultstring"].startswith("SOP-330011 Error while executing the method")
        assert "<ctx> is " in fault["detail"] and "above the limit of 200" in fault["detail"]
        many = await soap(client, push_events_envelope([event_xml()] * 4))
        assert many.status_code == 500
        fault = fault_of(many.content)
        assert fault["faultstring"].startswith("SOP-330011 Error while executing the method")
        assert "4 events in one call, above the limit of 3" in fault["detail"]
        assert stored_events(client) == []


async def test_depth_limit(make_instance: InstanceFactory) -> None:
    async with make_instance(max_xml_depth=16) as client:
        deep = "<a>" * 20 + "</a>" * 20
        answer = await soap(client, push_event_envelope(event_xml(ctx=deep)))
        assert answer.status_code == 500
        assert "nested deeper than the limit of 16" in fault_of(answer.content)["detail"]
        assert stored_events(client) == []


async def test_queue_above_the_hard_limit_refuses_new_events(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(queue_hard_limit=2, queue_warning=1) as client:
        for _ in range(2):
            assert (await soap(client, push_event_envelope(), action=PUSH)).is_success
        ping = await client.get("/nl/jsp/mcPing.jsp")
        assert ping.text.startswith("Error\n")
        assert "2/1 pending events" in ping.text
        refused = await soap(client, push_event_envelope(), action=PUSH)
        fault = fault_of(refused.content)
        assert fault["faultcode"] == "SOAP-ENV:Server"
        assert "2/2 pending events" in fault["faultstring"]
        assert len(stored_events(client)) == 2


async def test_mc_ping_reports_ok_and_the_counts(client: httpx.AsyncClient) -> None:
    assert (await soap(client, push_event_envelope(), action=PUSH)).is_success
    ping = await client.get("/nl/jsp/mcPing.jsp")
    lines = ping.text.splitlines()
    assert lines[0] == "Ok"
    assert lines[2] == "1/100 pending events"
