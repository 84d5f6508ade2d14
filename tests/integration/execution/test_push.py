"""PushEvent and PushEvents as Campaign clients send them."""

from __future__ import annotations

import httpx
import pytest

from execution_instance.intake.service import split_pl_id
from tests.integration.execution.conftest import InstanceFactory, soap, stored_events
from tests.support.soap import (
    SOAP11,
    event_xml,
    fault_of,
    outputs_of,
    push_event_envelope,
    push_events_envelope,
)


async def test_soapui_style_push_event_returns_a_plid_naming_the_instance(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(instance_id=3) as client:
        answer = await soap(
            client,
            push_event_envelope(),
            action='"nms:rtEvent#PushEvent"',
            **{"content-type": "application/soap+xml;"},
        )
        assert answer.status_code == 200, answer.text
        (pl_id,) = outputs_of(answer.content, "plId")
        instance, pk = split_pl_id(int(pl_id))
        assert instance == 3
        events = stored_events(client)
    assert [e.id for e in events] == [pk]
    assert events[0].event_type == "PASSWORD_RESET"
    assert events[0].email == "ann@example.com"
    assert events[0].queue == 0
    assert events[0].status == 0
    assert "<firstName>Ann</firstName>" in events[0].document
    assert "xsi:type='xsd:long'" in answer.text


async def test_node_style_mc_slash_with_text_xml_and_unquoted_action(
    client: httpx.AsyncClient,
) -> None:
    envelope = (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP11}"><soapenv:Body>'
        '<PushEvent xmlns="urn:nms:rtEvent"><sessiontoken>mc/</sessiontoken><domEvent>'
        + event_xml(xmlns="")
        + "</domEvent></PushEvent></soapenv:Body></soapenv:Envelope>"
    )
    answer = await soap(client, envelope, soapAction="nms:rtEvent#PushEvent")
    assert answer.status_code == 200, answer.text
    assert len(stored_events(client)) == 1


async def test_dom_doc_wrapper_and_no_soap_action_at_all(client: httpx.AsyncClient) -> None:
    envelope = push_event_envelope(parameter="domDoc")
    answer = await soap(client, envelope)
    assert answer.status_code == 200, answer.text
    assert outputs_of(answer.content, "plId")


async def test_method_from_the_sdk_query_parameter(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/nl/jsp/soaprouter.jsp?soapAction=nms:rtEvent%23PushEvent",
        content=push_event_envelope().encode(),
        headers={"content-type": "application/soap+xml;charset=UTF-8"},
    )
    assert answer.status_code == 200, answer.text


async def test_events_inheriting_the_method_namespace_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    """A client that forgets xmlns="" puts rtEvent and ctx in urn:nms:rtEvent."""
    envelope = (
        f'<s:Envelope xmlns:s="{SOAP11}"><s:Body><PushEvent xmlns="urn:nms:rtEvent">'
        "<sessiontoken>mc/mc</sessiontoken><domEvent>"
        '<rtEvent type="PASSWORD_RESET" email="bob@example.com"><ctx><a>1</a></ctx></rtEvent>'
        "</domEvent></PushEvent></s:Body></s:Envelope>"
    )
    answer = await soap(client, envelope)
    assert answer.status_code == 200, answer.text
    (event,) = stored_events(client)
    assert event.document.startswith('<rtEvent type="PASSWORD_RESET"')
    assert "urn:nms:rtEvent" not in event.document


async def test_push_events_returns_one_plid_per_event_in_order(
    client: httpx.AsyncClient,
) -> None:
    events = [event_xml(email=f"user{i}@example.com") for i in range(5)]
    answer = await soap(client, push_events_envelope(events), action="nms:rtEvent#PushEvents")
    assert answer.status_code == 200, answer.text
    ids = [split_pl_id(int(v))[1] for v in outputs_of(answer.content, "plId")]
    stored = stored_events(client)
    assert ids == [e.id for e in stored]
    assert [e.email for e in stored] == [f"user{i}@example.com" for i in range(5)]


async def test_push_events_with_one_bad_event_stores_nothing_and_names_its_index(
    client: httpx.AsyncClient,
) -> None:
    events = [event_xml(email=f"user{i}@example.com") for i in range(4)]
    events[2] = event_xml(email="not-an-address")
    answer = await soap(client, push_events_envelope(events), action="nms:rtEvent#PushEvents")
    assert answer.status_code == 500
    fault = fault_of(answer.content)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert fault["faultstring"].startswith("SOP-330011")
    assert "event 2" in fault["detail"]
    assert "not-an-address" in fault["detail"]
    assert stored_events(client) == []


async def test_batch_events_go_to_the_batch_queue(client: httpx.AsyncClient) -> None:
    envelope = push_event_envelope(event_xml(element="batchEvent"), service="nms:batchEvent")
    answer = await soap(client, envelope, action="nms:batchEvent#PushEvent")
    assert answer.status_code == 200, answer.text
    assert "urn:nms:batchEvent" in answer.text
    (event,) = stored_events(client)
    assert event.queue == 1


@pytest.mark.parametrize(
    ("attributes", "check"),
    [
        ({"wishedChannel": "1", "mobilePhone": "+447700900123"}, ("mobile_phone", "+447700900123")),
        (
            {"wishedChannel": "41", "registrationToken": "c3dd4a1c", "email": "a@example.com"},
            ("push_token", "c3dd4a1c"),
        ),
        (
            {"scheduled": "2026-12-01 08:00:00.768Z"},
            ("scheduled", "2026-12-01T08:00:00.768000+00:00"),
        ),
        ({"expiration": "2026-12-31T08:00:00+01:00"}, ("expiration", "2026-12-31T07:00:00+00:00")),
        ({"externalId": "1596", "origin": "eShopping"}, ("external_id", "1596")),
        ({"emailFormat": "2", "language": "english", "country": "EN"}, ("email_format", 2)),
    ],
)
async def test_documented_attributes_are_stored(
    client: httpx.AsyncClient, attributes: dict[str, str], check: tuple[str, object]
) -> None:
    ctx = "<deliveryTime>1:30 PM</deliveryTime>"
    event = event_xml(ctx=ctx, **attributes)
    if attributes.get("wishedChannel") == "41":
        event = event.replace(
            "<ctx>", '<mobileApp _operation="none" uuid="com.adobe.NeoMiles"/><ctx>'
        )
    answer = await soap(client, push_event_envelope(event))
    assert answer.status_code == 200, answer.text
    (stored,) = stored_events(client)
    column, expected = check
    value = getattr(stored, column)
    assert (value.isoformat() if hasattr(value, "isoformat") else value) == expected
