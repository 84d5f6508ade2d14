"""The control instance's SOAP router, sent Adobe's JS SDK's exact requests (acc-js-sdk-wire §5-7).

Operators of the control instance log on (``xtk:session#Logon``), or send ``login/password`` or
an API bearer token, and query the execution-instance accounts (``nms:extAccount``, sample
600), the archived history (``nms:eventHisto``) and the event types (``xtk:enumValue``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from lxml import etree

from control_instance.tables import Account, ArchivedEvent
from tests.conftest import DatabaseTarget
from tests.integration.control.builders import make_event_type
from tests.integration.control.conftest import Cell, control_cell
from tests.integration.execution.js_sdk import (
    boolean,
    call,
    document,
    dom,
    fault,
    outputs,
    scalar,
    string,
)

# Sample 600's "Message Center instances" query, verbatim (acc-js-sdk-wire §7).
EXT_ACCOUNT_QUERY = (
    '<queryDef schema="nms:extAccount" operation="select" xtkschema="xtk:queryDef"><select>'
    '<node expr="@id"/><node expr="@name"/><node expr="@label"/><node expr="@active"/>'
    '<node expr="@server"/><node expr="@port"/><node expr="@account"/>'
    '<node expr="@executionInstanceId"/></select><where><condition expr="@type=11"/>'
    '<condition expr="@isMessageCenter=true"/></where></queryDef>'
)
EVENT_TYPES_QUERY = (
    '<queryDef schema="xtk:enumValue" operation="select" xtkschema="xtk:queryDef"><select>'
    '<node expr="@id"/><node expr="@name"/><node expr="@label"/></select><where>'
    "<condition expr=\"[enum/@name]='eventType'\"/></where></queryDef>"
)


def _logon_params(login: str, password: str) -> str:
    return (
        string("login", login) + string("password", password) + '<parameters xsi:type="ns:Element" '
        'SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"/>'
    )


async def _logon(
    cell: Cell, login: str = "admin", password: str = "admin", role: str = "admin"
) -> tuple[str, str]:
    answer = await call(cell.control, "xtk:session", "Logon", _logon_params(login, password))
    token, info, security = outputs(answer, "Logon")
    session_info = dom(info)
    assert session_info is not None and session_info.tag == "sessionInfo"
    assert session_info.find("serverInfo") is not None
    user = session_info.find("userInfo")
    assert user is not None and user.get("login") == login
    right = user.find("login-right")
    assert right is not None and right.get("right") == role
    return scalar(token, "xsd:string"), scalar(security, "xsd:string")


async def _query(
    cell: Cell, query: str, *, session: str = "", security: str = "", bearer: str | None = None
) -> httpx.Response:
    return await call(
        cell.control,
        "xtk:queryDef",
        "ExecuteQuery",
        document("document", query),
        session=session,
        security=security,
        bearer=bearer,
    )


def _rows(response: httpx.Response, name: str) -> list[dict[str, str]]:
    (output,) = outputs(response, "ExecuteQuery")
    collection = dom(output)
    assert collection is not None and collection.tag == f"{name}-collection"
    assert all(row.tag == name for row in collection)
    return [{str(k): str(v) for k, v in row.attrib.items()} for row in collection]


async def test_logon_query_and_logoff_with_the_sdk_requests(cell: Cell) -> None:
    session, security = await _logon(cell)
    assert session.startswith("___") and security.startswith("@")

    rows = _rows(
        await _query(cell, EXT_ACCOUNT_QUERY, session=session, security=security), "extAccount"
    )
    assert sorted(int(row["executionInstanceId"]) for row in rows) == [1, 2]
    for row in rows:
        assert set(row) == {
            "id",
            "name",
            "label",
            "active",
            "server",
            "port",
            "account",
            "executionInstanceId",
        }
        assert row["active"] == "1"
        assert row["server"] in {"http://exec-1.test", "http://exec-2.test"}
        assert row["port"] == "80"
        assert "password" not in "".join(row).lower()

    off = await call(cell.control, "xtk:session", "Logoff", session=session, security=security)
    assert outputs(off, "Logoff") == []
    again = await _query(cell, EXT_ACCOUNT_QUERY, session=session, security=security)
    assert again.status_code == 500
    assert "XSV-350008" in fault(again)["faultstring"]


async def test_a_wrong_password_is_campaigns_fault(cell: Cell) -> None:
    answer = await call(cell.control, "xtk:session", "Logon", _logon_params("admin", "wrong"))
    assert answer.status_code == 500
    shown = fault(answer)
    assert "Invalid login or password" in shown["faultstring"] + shown["detail"]

    refused = await _query(cell, EXT_ACCOUNT_QUERY, session="admin/wrong")
    assert refused.status_code == 500
    assert "Invalid login or password" in fault(refused)["detail"]


async def test_a_wrong_security_token_ends_the_session(cell: Cell) -> None:
    session, _ = await _logon(cell)
    answer = await _query(cell, EXT_ACCOUNT_QUERY, session=session, security="@forged")
    assert answer.status_code == 500
    assert "XSV-350008" in fault(answer)["faultstring"]


async def test_login_password_as_the_session_token(cell: Cell) -> None:
    # ofSessionToken(url, "admin/admin"): in <sessiontoken>, the cookie and X-Session-Token.
    rows = _rows(await _query(cell, EXT_ACCOUNT_QUERY, session="admin/admin"), "extAccount")
    assert len(rows) == 2


async def test_an_api_bearer_token_of_any_role(cell: Cell) -> None:
    for role in ("viewer", "editor"):
        headers = await cell.as_role(role)
        token = headers["authorization"].removeprefix("Bearer ")
        rows = _rows(await _query(cell, EXT_ACCOUNT_QUERY, bearer=token), "extAccount")
        assert len(rows) == 2
    refused = await _query(cell, EXT_ACCOUNT_QUERY, bearer="not-a-token")
    assert refused.status_code == 500


async def test_no_credentials_is_an_expired_session(cell: Cell) -> None:
    answer = await _query(cell, EXT_ACCOUNT_QUERY)
    assert answer.status_code == 500
    assert "XSV-350008" in fault(answer)["faultstring"]


async def test_the_control_instances_event_types(cell: Cell) -> None:
    name = await make_event_type(cell, await cell.login())
    rows = _rows(await _query(cell, EVENT_TYPES_QUERY, session="admin/admin"), "enumValue")
    found = [row for row in rows if row["name"] == name]
    assert found and found[0]["label"] == name.title() and int(found[0]["id"]) > 0


async def test_the_archived_history(cell: Cell) -> None:
    now = datetime.now(UTC)
    pl_id = (1 << 56) | 4242
    with cell.control_app.state.control.db.transaction(write=True) as session:
        session.add(
            ArchivedEvent(
                pl_id=pl_id,
                account_id=1,
                instance_id=1,
                queue="rt",
                event_type="WELCOME",
                channel=0,
                status=2,
                email="ann@example.com",
                document="<rtEvent/>",
                created_at=now,
                processed_at=now,
                updated_at=now,
                archived_at=now,
            )
        )
    query = (
        '<queryDef schema="nms:eventHisto" operation="select" xtkschema="xtk:queryDef"><select>'
        '<node expr="@id"/><node expr="@type"/><node expr="@email"/><node expr="@status"/>'
        '<node expr="@created"/><node expr="@executionInstanceId"/></select><where>'
        "<condition expr=\"@email='ann@example.com'\"/></where></queryDef>"
    )
    (row,) = _rows(await _query(cell, query, session="admin/admin"), "eventHisto")
    assert row["id"] == str(pl_id) and row["type"] == "WELCOME" and row["status"] == "2"
    assert row["executionInstanceId"] == "1" and row["created"].endswith("Z")

    count = '<queryDef schema="nms:eventHisto" operation="count"/>'
    (output,) = outputs(await _query(cell, count, session="admin/admin"), "ExecuteQuery")
    counted = dom(output)
    assert counted is not None and counted.get("count") == "1"


async def test_unknown_schema_and_attribute_are_faults(cell: Cell) -> None:
    unknown = await _query(
        cell, '<queryDef schema="nms:rtEvent" operation="select"/>', session="admin/admin"
    )
    assert unknown.status_code == 500
    assert "Unknown schema 'nms:rtEvent'" in fault(unknown)["detail"]

    secret = (
        '<queryDef schema="nms:extAccount" operation="select"><select>'
        '<node expr="@password"/></select></queryDef>'
    )
    refused = await _query(cell, secret, session="admin/admin")
    assert refused.status_code == 500
    assert "Unknown attribute '@password'" in fault(refused)["detail"]


async def test_compiled_schemas_of_what_the_router_serves(cell: Cell) -> None:
    params = (
        string("pk", "xtk:schema|xtk:queryDef") + string("md5", "") + boolean("mustExist", False)
    )
    answer = await call(
        cell.control, "xtk:persist", "GetEntityIfMoreRecent", params, session="admin/admin"
    )
    (doc,) = outputs(answer, "GetEntityIfMoreRecent")
    schema = dom(doc)
    assert schema is not None and schema.get("name") == "queryDef"
    method = schema.find("methods/method")
    assert method is not None and method.get("name") == "ExecuteQuery"

    params = string("pk", "xtk:schema|nms:rtEvent") + string("md5", "") + boolean("mustExist", True)
    missing = await call(
        cell.control, "xtk:persist", "GetEntityIfMoreRecent", params, session="admin/admin"
    )
    assert missing.status_code == 500


async def test_methods_it_does_not_serve_and_the_server_time(cell: Cell) -> None:
    push = await call(cell.control, "nms:rtEvent", "PushEvent", session="admin/admin")
    assert push.status_code == 500
    assert "SOP-330006" in fault(push)["faultstring"] + fault(push)["detail"]

    (time,) = outputs(await call(cell.control, "xtk:session", "GetServerTime"), "GetServerTime")
    assert (time.text or "").endswith("Z")


async def test_cross_site_calls_are_refused_and_the_console_is_untouched(cell: Cell) -> None:
    answer = await cell.control.post(
        "/nl/jsp/soaprouter.jsp",
        content=b"<x/>",
        headers={"content-type": "text/plain", "SOAPAction": "xtk:session#Logon"},
    )
    assert answer.status_code == 415
    forged = await cell.control.post(
        "/nl/jsp/soaprouter.jsp",
        content=b"<x/>",
        headers={"content-type": "text/xml", "origin": "http://evil.example"},
    )
    assert forged.status_code == 403
    # A name re-pointed at this machine (DNS rebinding) gets no answer from the router.
    rebound = await cell.control.post(
        "/nl/jsp/soaprouter.jsp",
        content=b"<x/>",
        headers={"content-type": "text/xml", "host": "rebind.attacker.example:8080"},
    )
    assert rebound.status_code == 421
    assert (await cell.control.get("/api/v1/execution-instances")).status_code == 401


async def test_wsdls_of_the_served_schemas(cell: Cell) -> None:
    for schema in ("xtk:session", "xtk:persist", "xtk:queryDef"):
        answer = await cell.control.get("/nl/jsp/schemawsdl.jsp", params={"schema": schema})
        assert answer.status_code == 200, answer.text
        root = etree.fromstring(answer.content)
        assert root.get("targetNamespace") == f"urn:{schema}"
        assert b"/nl/jsp/soaprouter.jsp" in answer.content
    missing = await cell.control.get("/nl/jsp/schemawsdl.jsp", params={"schema": "nms:rtEvent"})
    assert missing.status_code == 404


@pytest.mark.postgres
async def test_the_port_comes_from_the_url(tmp_path: Path, database_target: DatabaseTarget) -> None:
    urls = {
        "plain": ("http://a.example", "80"),
        "tls": ("https://b.example/nl", "443"),
        "explicit": ("http://c.example:8443/path", "8443"),
        "tlsport": ("HTTPS://d.example:444", "444"),
        "ipv6": ("http://[::1]:9090/", "9090"),
        "ipv6bare": ("https://[::1]", "443"),
    }
    async with control_cell(
        tmp_path,
        instances=0,
        database_url=database_target.url,
        database_schema=database_target.schema,
    ) as cell:
        now = datetime.now(UTC)
        with cell.control_app.state.control.db.transaction(write=True) as session:
            for name, (url, _) in urls.items():
                session.add(
                    Account(
                        name=name,
                        url=url,
                        login="mc",
                        password_secret="sealed",
                        enabled=name != "plain",
                        created_at=now,
                        updated_at=now,
                    )
                )
        query = (
            '<queryDef schema="nms:extAccount" operation="select"><select>'
            '<node expr="@name"/><node expr="@port"/><node expr="@active"/></select><where>'
            '<condition expr="@type=11"/><condition expr="@isMessageCenter=true"/></where>'
            "</queryDef>"
        )
        rows = _rows(await _query(cell, query, session="admin/admin"), "extAccount")
        assert {row["name"]: row["port"] for row in rows} == {
            name: port for name, (_, port) in urls.items()
        }
        assert {row["name"] for row in rows if row["active"] == "0"} == {"plain"}
        by_port = query.replace('@isMessageCenter=true"/>', '@port>=444"/>')
        rows = _rows(await _query(cell, by_port, session="admin/admin"), "extAccount")
        assert {row["name"] for row in rows} == {"explicit", "tlsport", "ipv6"}


async def test_failed_logons_are_throttled(tmp_path: Path) -> None:
    async with control_cell(tmp_path, instances=0, login_max_failures=2) as cell:
        for _ in range(2):
            answer = await call(
                cell.control, "xtk:session", "Logon", _logon_params("admin", "wrong")
            )
            assert "Invalid login or password" in fault(answer)["detail"]
        throttled = await call(
            cell.control, "xtk:session", "Logon", _logon_params("admin", "admin")
        )
        assert throttled.status_code == 500
        assert "Too many failed logins" in str(fault(throttled))


async def test_a_soap_session_is_no_api_token(cell: Cell) -> None:
    session, _ = await _logon(cell)
    for token in (session, session.removeprefix("___")):
        answer = await cell.control.get(
            "/api/v1/execution-instances", headers={"authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 401


async def test_a_viewer_logs_on_and_queries(cell: Cell) -> None:
    await cell.as_role("viewer")  # creates viewer-user
    session, security = await _logon(cell, "viewer-user", "password-viewer", role="viewer")
    answer = await _query(cell, EXT_ACCOUNT_QUERY, session=session, security=security)
    assert len(_rows(answer, "extAccount")) == 2
    info = await call(
        cell.control, "xtk:session", "GetUserInfo", session=session, security=security
    )
    (user_info,) = outputs(info, "GetUserInfo")
    user = dom(user_info)
    assert user is not None and user.get("login") == "viewer-user"
