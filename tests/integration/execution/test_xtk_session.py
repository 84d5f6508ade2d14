"""``xtk:session`` and ``/r/test`` as Adobe's JS SDK calls them (acc-js-sdk-wire §5, §6, §8)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import httpx
import pytest
from lxml import etree

from midsourcing.app import create_app as create_mid
from midsourcing.settings import MidSettings
from tests.integration.execution import js_sdk
from tests.integration.execution.conftest import InstanceFactory, stored_events
from tests.support.asgi import serve

TOKEN = "mcsim-dev-token"
LOGON_PARAMS = (
    js_sdk.string("login", "mc")
    + js_sdk.string("password", "mc")
    + f'<parameters xsi:type="ns:Element" {js_sdk.LITERAL}/>'
)
EVENT = js_sdk.document(
    "domEvent",
    '<rtEvent wishedChannel="0" type="PASSWORD_RESET" email="a@b.c"><ctx/></rtEvent>',
)


def check_logon_answer(response: httpx.Response, method: str) -> tuple[str, str]:
    """Check what the SDK requires of a Logon answer (§5.2); return both tokens."""
    session_out, info_out, security_out = js_sdk.outputs(response, method)
    session = js_sdk.scalar(session_out, "xsd:string")
    security = js_sdk.scalar(security_out, "xsd:string")
    assert session.startswith("___") and security.startswith("@")
    info = js_sdk.dom(info_out)
    assert info is not None and info.tag == "sessionInfo"
    assert [child.tag for child in info] == ["serverInfo", "userInfo"]
    server, user = info
    assert server.get("instanceName") == "mcsim_exec1"
    assert server.get("databaseId", "").startswith("u")
    assert user.get("login") == "mc"
    return session, security


async def test_of_user_and_password_logon_calls_and_logoff(client: httpx.AsyncClient) -> None:
    logon = await js_sdk.call(client, "xtk:session", "Logon", LOGON_PARAMS)
    assert "<LogonResponse xmlns='urn:xtk:session'" in logon.text
    session, security = check_logon_answer(logon, "Logon")
    pushed = await js_sdk.call(
        client, "nms:rtEvent", "PushEvent", EVENT, session=session, security=security
    )
    js_sdk.scalar(js_sdk.outputs(pushed, "PushEvent")[0], "xsd:long")
    off = await js_sdk.call(client, "xtk:session", "Logoff", session=session, security=security)
    assert js_sdk.outputs(off, "Logoff") == []
    after = await js_sdk.call(
        client, "nms:rtEvent", "PushEvent", EVENT, session=session, security=security
    )
    assert after.status_code == 500
    assert js_sdk.fault(after)["faultstring"].startswith("XSV-350008")
    assert len(stored_events(client)) == 1


async def test_bearer_token_logon_opens_a_session_for_a_technical_token(
    client: httpx.AsyncClient,
) -> None:
    params = js_sdk.string("bearerToken", TOKEN)
    logon = await js_sdk.call(client, "xtk:session", "BearerTokenLogon", params)
    assert "<BearerTokenLogonResponse xmlns='urn:xtk:session'" in logon.text
    session, security = check_logon_answer(logon, "BearerTokenLogon")
    pushed = await js_sdk.call(
        client, "nms:rtEvent", "PushEvent", EVENT, session=session, security=security
    )
    js_sdk.scalar(js_sdk.outputs(pushed, "PushEvent")[0], "xsd:long")
    wrong = await js_sdk.call(
        client, "xtk:session", "BearerTokenLogon", js_sdk.string("bearerToken", "nope")
    )
    assert wrong.status_code == 500
    fault = js_sdk.fault(wrong)
    assert "XSV-350008" not in wrong.text
    assert "Invalid login or password" in fault["detail"]


async def test_ims_bearer_with_session_info(client: httpx.AsyncClient) -> None:
    """``ofImsBearerToken(url, tok, {sessionInfo: true})``: /r/test, then GetUserInfo."""
    redir = await client.get("/r/test")
    assert redir.status_code == 200
    assert redir.headers["content-type"] == "text/xml; charset=utf-8"
    root = etree.fromstring(redir.content)
    assert root.tag == "redir" and root.get("status") == "OK"
    assert root.get("build") and root.get("instance") == "mcsim_exec1"
    datetime.fromisoformat(root.get("date", "").replace("Z", "+00:00"))
    assert {"sha1", "sourceIP", "host", "localHost"} <= set(root.keys())
    info = await js_sdk.call(client, "xtk:session", "GetUserInfo", bearer=TOKEN)
    (user_info,) = js_sdk.outputs(info, "GetUserInfo")
    assert user_info.get(js_sdk.XSI_TYPE) == "ns:Element"
    user = js_sdk.dom(user_info)
    assert user is not None and (user.tag, user.get("login")) == ("userInfo", "mc")
    nobody = await js_sdk.call(client, "xtk:session", "GetUserInfo")
    assert js_sdk.fault(nobody)["faultstring"].startswith("XSV-350008")


async def test_get_option(make_instance: InstanceFactory) -> None:
    async def option(client: httpx.AsyncClient, name: str) -> tuple[str, str]:
        response = await js_sdk.call(
            client, "xtk:session", "GetOption", js_sdk.string("name", name), session="mc/mc"
        )
        value, kind = js_sdk.outputs(response, "GetOption")
        return js_sdk.scalar(value, "xsd:string"), js_sdk.scalar(kind, "xsd:byte")

    async with make_instance() as client:
        database, kind = await option(client, "XtkDatabaseId")
        assert database.startswith("u") and len(database) == 41 and kind == "6"
        assert await option(client, "NmsServer_LastPostUpgrade") == ("mcsim", "6")
        assert await option(client, "NoSuchOption") == ("", "0")
    async with make_instance() as again:  # the same database: the same id
        assert await option(again, "XtkDatabaseId") == (database, "6")


async def test_get_modified_entities_reports_nothing_changed(client: httpx.AsyncClient) -> None:
    cache = js_sdk.document(
        "cacheEntities", '<cache><xtk:schema xmlns:xtk="urn:xtk:schema"/></cache>'
    )
    response = await js_sdk.call(
        client, "xtk:session", "GetModifiedEntities", cache, session="mc/mc", internal=True
    )
    (dirty,) = js_sdk.outputs(response, "GetModifiedEntities")
    assert dirty.get(js_sdk.XSI_TYPE) == "ns:Element"
    found = js_sdk.dom(dirty)
    assert found is not None and found.tag == "cache" and len(found) == 0
    assert found.get("buildNumber") == "mcsim"
    datetime.fromisoformat(found.get("time", "").replace("Z", "+00:00"))
    unknown = await js_sdk.call(client, "xtk:session", "GetNothing", session="mc/mc")
    assert js_sdk.fault(unknown)["faultstring"].startswith("SOP-330006")


async def test_get_server_time_answers_an_xsd_datetime(client: httpx.AsyncClient) -> None:
    response = await js_sdk.call(client, "xtk:session", "GetServerTime")
    (moment,) = js_sdk.outputs(response, "GetServerTime")
    text = js_sdk.scalar(moment, "xsd:dateTime")
    assert datetime.fromisoformat(text.replace("Z", "+00:00")).tzinfo is not None


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"x-session-token": "mc/mc", "x-security-token": ""}, True),
        ({"cookie": "__sessiontoken=mc/mc"}, True),
        ({"x-session-token": "mc/wrong"}, False),
    ],
)
async def test_mc_mc_in_any_header_is_credentials(
    client: httpx.AsyncClient, headers: dict[str, str], ok: bool
) -> None:
    body = js_sdk.envelope("xtk:session", "GetUserInfo", "")
    response = await client.post(
        "/nl/jsp/soaprouter.jsp",
        content=body.encode(),
        headers={"content-type": "text/xml", "soapaction": "xtk:session#GetUserInfo", **headers},
    )
    if ok:
        assert js_sdk.dom(js_sdk.outputs(response, "GetUserInfo")[0]) is not None
    else:
        assert js_sdk.fault(response)["detail"] == "Invalid login or password. Connection denied."


async def test_mid_sourcing_serves_its_schemas_and_session_calls(tmp_path: Path) -> None:
    async with serve(create_mid(MidSettings(data_dir=tmp_path))) as client:
        params = (
            js_sdk.string("pk", "xtk:schema|nms:delivery")
            + js_sdk.string("md5", "")
            + js_sdk.boolean("mustExist", False)
        )
        response = await js_sdk.call(
            client, "xtk:persist", "GetEntityIfMoreRecent", params, session="mid/mid"
        )
        schema = js_sdk.dom(js_sdk.outputs(response, "GetEntityIfMoreRecent")[0])
        assert schema is not None and schema.get("name") == "delivery"
        info = await js_sdk.call(client, "xtk:session", "GetUserInfo", session="mid/mid")
        user = js_sdk.dom(js_sdk.outputs(info, "GetUserInfo")[0])
        assert user is not None and user.get("login") == "mid"
        bearer = await js_sdk.call(
            client, "xtk:session", "BearerTokenLogon", js_sdk.string("bearerToken", TOKEN)
        )
        assert "accepts no bearer tokens" in js_sdk.fault(bearer)["detail"]
