"""The REST transactional API (DESIGN §3.3)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from lxml import etree

from execution_instance.intake.service import split_pl_id
from tests.integration.execution.conftest import InstanceFactory, soap, stored_events
from tests.support.soap import event_xml, outputs_of, push_event_envelope

PATH = "/acme/campaign/mcacme/EVTPASSWORD_RESET"
AUTH = {"authorization": "Bearer mcsim-dev-token"}


async def post(
    client: httpx.AsyncClient, body: Any, path: str = PATH, **headers: str
) -> httpx.Response:
    return await client.post(path, json=body, headers={**AUTH, **headers})


async def test_post_creates_a_pending_event_and_get_follows_its_href(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(instance_id=2) as client:
        body = {
            "email": "ann@example.com",
            "ctx": {"firstName": "Ann", "resetUrl": "https://x.test/r?a=1&b=2"},
        }
        answer = await post(client, body)
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert created["status"] == "pending"
        assert created["type"] == "PASSWORD_RESET"
        assert created["ctx"] == body["ctx"]
        assert split_pl_id(int(created["PKey"]))[0] == 2
        assert created["href"] == f"mcacme/EVTPASSWORD_RESET/{created['PKey']}"
        again = await client.get(f"/acme/campaign/{created['href']}", headers=AUTH)
        assert again.status_code == 200
        assert again.json()["PKey"] == created["PKey"]
        (event,) = stored_events(client)
    ctx = etree.fromstring(event.document).find("ctx")
    assert ctx is not None
    assert ctx.findtext("resetUrl") == "https://x.test/r?a=1&b=2"
    assert event.source == "rest"


async def test_json_ctx_maps_to_the_same_xml_as_soap(client: httpx.AsyncClient) -> None:
    body = {
        "email": "ann@example.com",
        "ctx": {
            "order": {"@id": "A-1", "total": 12.5},
            "item": [{"@name": "Pen", "@qty": 2}, {"@name": "Ink", "@qty": 1}],
            "vip": True,
            "note": None,
        },
    }
    assert (await post(client, body)).status_code == 201
    (event,) = stored_events(client)
    ctx = etree.fromstring(event.document).find("ctx")
    assert ctx is not None
    assert etree.tostring(ctx).decode() == (
        '<ctx><order id="A-1"><total>12.5</total></order>'
        '<item name="Pen" qty="2"/><item name="Ink" qty="1"/><vip>true</vip><note/></ctx>'
    )


@pytest.mark.parametrize(
    ("body", "channel", "column", "value"),
    [
        ({"mobilePhone": "+447700900123", "ctx": {}}, 1, "mobile_phone", "+447700900123"),
        (
            {"email": "a@example.com", "mobilePhone": "+447700900123", "ctx": {}},
            0,
            "email",
            "a@example.com",
        ),
        (
            {
                "email": "a@example.com",
                "mobilePhone": "+447700900123",
                "wishedChannel": 1,
                "ctx": {},
            },
            1,
            "mobile_phone",
            "+447700900123",
        ),
    ],
)
async def test_channel_choice_follows_campaign_v8(
    client: httpx.AsyncClient, body: dict[str, Any], channel: int, column: str, value: str
) -> None:
    assert (await post(client, body)).status_code == 201
    (event,) = stored_events(client)
    assert event.wished_channel == channel
    assert getattr(event, column) == value


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"email": "ann@example.com"}, 400, "ctx is required"),
        ({"email": "nope", "ctx": {}}, 400, "not valid"),
        ({"ctx": {}, "mobilePhone": "123"}, 400, "E.164"),
        ({"email": "a@example.com", "ctx": {"bad key": 1}}, 400, "not a valid XML name"),
        ({"email": "a@example.com", "ctx": {}, "scheduled": "soon"}, 400, "not a date"),
        ({"email": "a@example.com", "ctx": {}, "wishedChannel": 9}, 400, "not a channel"),
        ([1, 2], 400, "JSON object"),
    ],
)
async def test_bad_bodies_get_the_json_error_shape(
    client: httpx.AsyncClient, body: Any, status: int, words: str
) -> None:
    answer = await post(client, body)
    assert answer.status_code == status
    error = answer.json()
    assert error["error"] == "invalid_request"
    assert words in error["message"]
    assert stored_events(client) == []


async def test_not_json_and_too_large(make_instance: InstanceFactory) -> None:
    async with make_instance(max_body_bytes=2048) as client:
        garbage = await client.post(PATH, content=b"{nope", headers=AUTH)
        assert garbage.status_code == 400
        assert "not valid JSON" in garbage.json()["message"]
        large = await post(client, {"email": "a@example.com", "ctx": {"x": "y" * 5000}})
        assert large.status_code == 413
        assert large.json()["error"] == "payload_too_large"


async def test_auth_and_unknown_resources(client: httpx.AsyncClient) -> None:
    body = {"email": "a@example.com", "ctx": {}}
    assert (await client.post(PATH, json=body)).status_code == 401
    wrong = await client.post(PATH, json=body, headers={"authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    assert (await post(client, body, path="/acme/campaign/mcacme/EVTNOPE")).status_code == 404
    assert (
        await post(client, body, path="/other/campaign/mcother/EVTPASSWORD_RESET")
    ).status_code == 404
    missing = await client.get(f"{PATH}/{(1 << 56) | 999}", headers=AUTH)
    assert missing.status_code == 404
    elsewhere = await client.get(f"{PATH}/{(5 << 56) | 1}", headers=AUTH)
    assert elsewhere.status_code == 404
    assert "execution instance 5" in elsewhere.json()["message"]
    assert stored_events(client) == []


async def test_idempotency_key_returns_the_first_event(client: httpx.AsyncClient) -> None:
    body = {"email": "a@example.com", "ctx": {"n": 1}}
    first = await post(client, body, **{"idempotency-key": "order-42"})
    second = await post(client, body, **{"idempotency-key": "order-42"})
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert first.json()["PKey"] == second.json()["PKey"]
    other = await post(client, {**body, "ctx": {"n": 2}}, **{"idempotency-key": "order-42"})
    assert other.status_code == 409
    assert other.json()["field"] == "Idempotency-Key"
    assert len(stored_events(client)) == 1


async def test_concurrent_retries_with_one_key_create_one_event(client: httpx.AsyncClient) -> None:
    body = {"email": "a@example.com", "ctx": {}}
    answers = await asyncio.gather(
        *(post(client, body, **{"idempotency-key": "race"}) for _ in range(8))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["PKey"] for a in answers}) == 1
    assert len(stored_events(client)) == 1


async def test_openapi_documents_the_transactional_api(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    post_op = spec["paths"]["/{org}/campaign/{api}/{event_id}"]["post"]
    schema = post_op["requestBody"]["content"]["application/json"]["schema"]
    assert "ctx" in schema["properties"]
    assert "/{org}/campaign/{api}/{event_id}/{pkey}" in spec["paths"]


async def test_an_instance_above_127_answers_negative_ids_that_work_everywhere(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(instance_id=200) as client:
        answer = await post(client, {"email": "ann@example.com", "ctx": {"firstName": "Ann"}})
        assert answer.status_code == 201, answer.text
        pkey = int(answer.json()["PKey"])
        assert pkey < 0 and split_pl_id(pkey) == (200, 1)
        again = await client.get(f"/acme/campaign/{answer.json()['href']}", headers=AUTH)
        assert again.status_code == 200, again.text
        assert again.json()["PKey"] == str(pkey)
        envelope = push_event_envelope(event_xml("PASSWORD_RESET"))
        reply = await soap(client, envelope, action="nms:rtEvent#PushEvent")
        assert reply.status_code == 200, reply.text
        (pl_id,) = outputs_of(reply.content, "plId")
        assert split_pl_id(int(pl_id)) == (200, 2)


async def test_an_idempotency_key_over_255_characters_is_refused_with_its_header_named(
    client: httpx.AsyncClient,
) -> None:
    body = {"email": "ann@example.com", "ctx": {}}
    answer = await post(client, body, **{"Idempotency-Key": "k" * 256})
    assert answer.status_code == 400
    assert answer.json()["field"] == "header.idempotency-key"
    assert "at most 255 characters" in answer.json()["detail"]
    assert stored_events(client) == []
    assert (await post(client, body, **{"Idempotency-Key": "k" * 255})).status_code == 201


async def test_the_post_answers_what_a_get_reads_back(client: httpx.AsyncClient) -> None:
    """The POST answers from the values it stored, without reading the event back: every
    field must be what the database holds."""
    body = {
        "email": "ann@example.com",
        "mobilePhone": "+447700900123",
        "externalId": "order-7",
        "scheduled": "2099-01-01 08:00:00.000Z",
        "expiration": "2099-01-02 08:00:00.000Z",
        "ctx": {"firstName": "Ann", "order": {"@id": "A-1", "total": 12.5}, "vip": True},
    }
    created = await post(client, body)
    assert created.status_code == 201, created.text
    again = await client.get(f"/acme/campaign/{created.json()['href']}", headers=AUTH)
    assert again.json() == created.json()
