"""``xtk:persist#GetEntityIfMoreRecent`` and the Message Center calls, as the JS SDK sends them.

The SDK loads a schema (acc-js-sdk-wire §3) before its first call of one of its methods, with
``ofSessionToken(url, "mc/mc")``: ``mc/mc`` in the cookie, in ``X-Session-Token`` and in
``<sessiontoken>``, an empty security token (§4).
"""

from __future__ import annotations

import httpx
import pytest
from lxml import etree

from services.auth.zones import SecurityZone
from services.soap.persist import entity_md5
from tests.integration.execution import js_sdk
from tests.integration.execution.conftest import InstanceFactory, stored_events

MC = "mc/mc"


def load_schema_params(pk: str, *, must_exist: bool = False, md5: str = "") -> str:
    return (
        js_sdk.string("pk", pk)
        + js_sdk.string("md5", md5)
        + js_sdk.boolean("mustExist", must_exist)
    )


async def load_schema(
    client: httpx.AsyncClient, pk: str, *, must_exist: bool = False, md5: str = "", **auth: str
) -> httpx.Response:
    auth = auth or {"session": MC}
    params = load_schema_params(pk, must_exist=must_exist, md5=md5)
    return await js_sdk.call(
        client, "xtk:persist", "GetEntityIfMoreRecent", params, internal=True, **auth
    )


@pytest.mark.parametrize(
    ("schema_id", "methods"),
    [
        ("nms:rtEvent", {"PushEvent": "true", "PushEvents": "true"}),
        ("nms:batchEvent", {"PushEvent": "true", "PushEvents": "true"}),
        ("xtk:queryDef", {"ExecuteQuery": None}),
        ("xtk:session", {"Logon": "true", "GetUserInfo": "true", "GetOption": "true"}),
        ("xtk:persist", {"GetEntityIfMoreRecent": "true"}),
    ],
)
async def test_the_sdk_loads_each_schema_with_mc_mc(
    client: httpx.AsyncClient, schema_id: str, methods: dict[str, str | None]
) -> None:
    response = await load_schema(client, f"xtk:schema|{schema_id}")
    assert "<GetEntityIfMoreRecentResponse xmlns='urn:xtk:persist'" in response.text
    (pdom_doc,) = js_sdk.outputs(response, "GetEntityIfMoreRecent")
    assert etree.QName(pdom_doc).localname == "pdomDoc"
    assert pdom_doc.get(js_sdk.XSI_TYPE) == "ns:Element"
    schema = js_sdk.dom(pdom_doc)
    assert schema is not None
    namespace, name = schema_id.split(":")
    # Matched by unprefixed nodeName: no prefix, no namespace declaration in the schema (the
    # answer element's default namespace is inherited, as in Campaign's own answers).
    assert all(e.prefix is None for e in schema.iter())
    assert "xmlns" not in response.text.split("<schema ", 1)[1]
    assert (schema.tag, schema.get("namespace"), schema.get("name")) == ("schema", namespace, name)
    found = {m.get("name"): m.get("static") for m in schema.iter("method")}
    assert methods.items() <= found.items()


async def test_the_push_event_signature_the_sdk_reads(client: httpx.AsyncClient) -> None:
    response = await load_schema(client, "xtk:schema|nms:rtEvent")
    schema = js_sdk.dom(js_sdk.outputs(response, "GetEntityIfMoreRecent")[0])
    assert schema is not None
    method = schema.find("methods/method[@name='PushEvent']")
    assert method is not None
    params = [(p.get("name"), p.get("type"), p.get("inout")) for p in method.iter("param")]
    assert params == [("domEvent", "DOMDocument", "in"), ("plId", "int64", "out")]
    user = js_sdk.dom(
        js_sdk.outputs(
            await load_schema(client, "xtk:schema|xtk:session"), "GetEntityIfMoreRecent"
        )[0]
    )
    assert user is not None and user.find("element[@name='userInfo']") is not None


async def test_an_unknown_entity_is_empty_unless_it_must_exist(client: httpx.AsyncClient) -> None:
    for pk in ("xtk:schema|nms:nope", "xtk:srcSchema|nms:rtEvent", "xtk:schema|nms:delivery"):
        response = await load_schema(client, pk)
        (pdom_doc,) = js_sdk.outputs(response, "GetEntityIfMoreRecent")
        assert js_sdk.dom(pdom_doc) is None
    refused = await load_schema(client, "xtk:schema|nms:nope", must_exist=True)
    assert refused.status_code == 500
    fault = js_sdk.fault(refused)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert fault["faultstring"] == (
        "SOP-330011 Error while executing the method 'GetEntityIfMoreRecent' "
        "of service 'xtk:persist'."
    )
    assert "'xtk:schema|nms:nope' does not exist" in fault["detail"]


async def test_a_schema_the_caller_already_has_is_not_sent_again(
    client: httpx.AsyncClient,
) -> None:
    md5 = entity_md5("nms:rtEvent")
    assert md5 is not None
    same = await load_schema(client, "xtk:schema|nms:rtEvent", md5=md5)
    assert js_sdk.dom(js_sdk.outputs(same, "GetEntityIfMoreRecent")[0]) is None
    older = await load_schema(client, "xtk:schema|nms:rtEvent", md5="0" * 32)
    assert js_sdk.dom(js_sdk.outputs(older, "GetEntityIfMoreRecent")[0]) is not None


async def test_schemas_are_only_for_authenticated_callers(client: httpx.AsyncClient) -> None:
    anonymous = await load_schema(client, "xtk:schema|nms:rtEvent", session="")
    assert anonymous.status_code == 500
    assert js_sdk.fault(anonymous)["faultstring"].startswith("XSV-350008")
    wrong = await load_schema(client, "xtk:schema|nms:rtEvent", session="mc/wrong")
    fault = js_sdk.fault(wrong)
    # Not XSV-350008: the SDK would report an expired session (SDK-000012), not a bad password.
    assert "XSV-350008" not in wrong.text
    assert fault["detail"] == "Invalid login or password. Connection denied."
    bearer = await load_schema(client, "xtk:schema|nms:rtEvent", bearer="mcsim-dev-token")
    assert js_sdk.dom(js_sdk.outputs(bearer, "GetEntityIfMoreRecent")[0]) is not None


async def test_of_session_token_mc_mc_pushes_events(client: httpx.AsyncClient) -> None:
    event = (
        '<rtEvent wishedChannel="0" type="PASSWORD_RESET" email="a@b.c">'
        "<ctx><firstName>Alex</firstName></ctx></rtEvent>"
    )
    response = await js_sdk.call(
        client, "nms:rtEvent", "PushEvent", js_sdk.document("domEvent", event), session=MC
    )
    assert "<PushEventResponse xmlns='urn:nms:rtEvent'" in response.text
    (pl_id,) = js_sdk.outputs(response, "PushEvent")
    assert int(js_sdk.scalar(pl_id, "xsd:long")) == (1 << 56) | 1
    # nmsBatchEvent.pushEvent of an object with xtkschema: the root is <batchEvent>.
    batch = (
        '<batchEvent xtkschema="nms:batchEvent" wishedChannel="0" type="PASSWORD_RESET" '
        'email="b@b.c"><ctx/></batchEvent>'
    )
    response = await js_sdk.call(
        client, "nms:batchEvent", "PushEvent", js_sdk.document("domEvent", batch), session=MC
    )
    js_sdk.scalar(js_sdk.outputs(response, "PushEvent")[0], "xsd:long")
    events = "".join(
        f'<rtEvent wishedChannel="0" type="PASSWORD_RESET" email="{n}@b.c"><ctx/></rtEvent>'
        for n in "cd"
    )
    collection = js_sdk.document(
        "domEventCollection", f"<domEventCollection>{events}</domEventCollection>"
    )
    response = await js_sdk.call(client, "nms:rtEvent", "PushEvents", collection, session=MC)
    ids = [js_sdk.scalar(o, "xsd:long") for o in js_sdk.outputs(response, "PushEvents")]
    assert len(ids) == 2
    assert len(stored_events(client)) == 4


async def test_mc_mc_follows_the_zone_rules_wherever_it_is_sent(
    make_instance: InstanceFactory,
) -> None:
    tokens_only = SecurityZone(name="tokens-only", networks=["127.0.0.1/32"])
    async with make_instance(security_zones=[tokens_only]) as client:
        refused = await load_schema(client, "xtk:schema|nms:rtEvent")
        fault = js_sdk.fault(refused)
        assert fault["faultstring"] == (
            "Error while reading parameters of method 'GetEntityIfMoreRecent' "
            "of service 'xtk:persist'."
        )
        assert "allowUserPassword" in fault["detail"]
        # Only the cookie carries it (a hand-written client): the same rule.
        cookie_only = await client.post(
            "/nl/jsp/soaprouter.jsp",
            content=js_sdk.envelope(
                "xtk:persist", "GetEntityIfMoreRecent", load_schema_params("xtk:schema|nms:rtEvent")
            ).encode(),
            headers={
                "content-type": "text/xml",
                "soapaction": "xtk:persist#GetEntityIfMoreRecent",
                "cookie": "__sessiontoken=mc/mc",
            },
        )
        assert "allowUserPassword" in js_sdk.fault(cookie_only)["detail"]


async def test_the_sdk_s_batch_event_root_is_the_parameter_name(client: httpx.AsyncClient) -> None:
    """nmsBatchEvent.pushEvent({...}) without xtkschema sends <domEvent> (acc-js-sdk-wire §4.2)."""
    batch = '<domEvent wishedChannel="0" type="PASSWORD_RESET" email="b@b.c"><ctx/></domEvent>'
    response = await js_sdk.call(
        client, "nms:batchEvent", "PushEvent", js_sdk.document("domEvent", batch), session=MC
    )
    js_sdk.scalar(js_sdk.outputs(response, "PushEvent")[0], "xsd:long")
    (stored,) = stored_events(client)
    assert stored.document.startswith("<batchEvent ")  # stored under the queue's own name
