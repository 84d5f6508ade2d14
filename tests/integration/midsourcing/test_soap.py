"""The mid-sourcing SOAP router: Logon, AppendDeliveryPart and GetDeliveryLogs on the wire."""

from __future__ import annotations

import io
import logging
from typing import Any

import httpx
import pytest
import requests
import zeep
from lxml import etree

from services.delivery_protocol import LogStatus, render_delivery_part
from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import (
    ROUTER,
    append,
    append_envelope,
    email,
    envelope,
    logs_envelope,
    part,
    pull_logs,
    read_logs,
    settle,
    soap,
)
from tests.support.soap import fault_of, logon_envelope, outputs_of


async def test_logon_as_mid_then_append_with_the_session_token_and_security_token(
    mid: httpx.AsyncClient,
) -> None:
    response = await soap(mid, logon_envelope("mid", "mid"))
    assert response.status_code == 200, response.text
    (session,) = outputs_of(response.content, "pstrSessionToken")
    (security,) = outputs_of(response.content, "pstrSecurityToken")
    assert session.startswith("___") and security.startswith("@")
    assert b'login="mid"' in response.content or b"login='mid'" in response.content

    # The session token alone in <sessiontoken> (loopback zone: sessionTokenOnly).
    assert await append(mid, part(email("ann@example.com")), token=session) > 0
    # Cookie + X-Security-Token, <sessiontoken> empty, as the JS SDK sends them.
    body = append_envelope(part(email("bob@example.com")), token="")
    headers = {"cookie": f"__sessiontoken={session}", "x-security-token": security}
    answer = await soap(mid, body, **headers)
    assert outputs_of(answer.content, "fatalError") == ["0"], answer.text
    wrong = await soap(mid, body, **{**headers, "x-security-token": "@forged"})
    assert fault_of(wrong.content)["faultstring"].startswith("XSV-350008")
    await settle(mid, 2)


async def test_login_password_in_the_session_token_and_refusals(mid: httpx.AsyncClient) -> None:
    assert await append(mid, part(email("ann@example.com")), token="mid/mid") > 0
    refused = await soap(mid, append_envelope(part(email("x@example.com")), token="mid/nope"))
    assert refused.status_code == 500
    fault = fault_of(refused.content)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert "Invalid login or password" in fault["detail"]
    nothing = await soap(mid, append_envelope(part(email("x@example.com")), token=""))
    assert fault_of(nothing.content)["faultstring"].startswith("XSV-350008")
    bad_logon = await soap(mid, logon_envelope("mid", "wrong"))
    assert "Invalid login or password" in bad_logon.text
    assert (await mid.get("/api/v1/messages", params={"recipient": "x@"})).json()["total"] == 0


async def test_the_development_operator_is_replaced_by_settings(make_mid: MidFactory) -> None:
    async with make_mid(operators={"exec": "s3cret"}) as client:
        assert await append(client, part(email("a@example.com")), token="exec/s3cret") > 0
        refused = await soap(client, logon_envelope("mid", "mid"))
        assert refused.status_code == 500


async def test_callers_outside_every_security_zone_are_refused(make_mid: MidFactory) -> None:
    zones = [{"name": "lan", "networks": ["10.0.0.0/8"], "allow_user_password": True}]
    async with make_mid(security_zones=zones) as client:  # testclient is not in 10/8
        response = await soap(client, append_envelope(part(email("a@example.com"))))
        assert response.status_code == 403
        assert "XSV-350013" in fault_of(response.content)["faultstring"]


async def test_unknown_methods_and_garbage_get_soap_faults(mid: httpx.AsyncClient) -> None:
    unknown = await soap(mid, envelope("nms:delivery", "StartDelivery", [("sessiontoken", "")]))
    assert "SOP-330006" in fault_of(unknown.content)["faultstring"]
    assert "AppendDeliveryPart" in fault_of(unknown.content)["detail"]
    garbage = await mid.post(ROUTER, content=b"<nope", headers={"content-type": "text/xml"})
    assert garbage.status_code == 500
    assert fault_of(garbage.content)["faultcode"] == "SOAP-ENV:Client"


@pytest.mark.parametrize(
    "document",
    [
        "",
        "<somethingElse/>",
        "<deliveryPart><message id='1' to='a@b.c' channel='email'/></deliveryPart>",
        "<deliveryPart id='p'><message id='1-1' to='a@b.c' channel='fax'/></deliveryPart>",
        "<deliveryPart id='p'><message id='1-1' channel='email'/></deliveryPart>",
        "<deliveryPart id='p'><message id='1-1' to='a@b.c' channel='email' eventId='x'/>"
        "</deliveryPart>",
    ],
)
async def test_a_malformed_part_is_a_fatal_error_and_stores_nothing(
    mid: httpx.AsyncClient, document: str
) -> None:
    response = await soap(mid, append_envelope(document))
    assert response.status_code == 200
    assert outputs_of(response.content, "fatalError") == ["1"]
    assert outputs_of(response.content, "deliveryPartId") == ["0"]
    assert outputs_of(response.content, "fatalErrorMsg")[0]
    assert (await mid.get("/api/v1/messages/counts")).json()["total"] == 0


async def test_a_part_above_the_message_limit_is_fatal(make_mid: MidFactory) -> None:
    async with make_mid(max_messages_per_part=2) as client:
        response = await soap(
            client, append_envelope(part(*(email(f"u{i}@example.com") for i in range(3))))
        )
        assert outputs_of(response.content, "fatalError") == ["1"]
        assert "MAX_MESSAGES_PER_PART" in outputs_of(response.content, "fatalErrorMsg")[0]


async def test_a_part_written_with_a_default_namespace_is_read_whole(
    mid: httpx.AsyncClient,
) -> None:
    document = etree.tostring(
        render_delivery_part(part(email("ns@example.com"))), encoding="unicode"
    )
    body = (
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>"
        "<SOAP-ENV:Body><AppendDeliveryPart xmlns='urn:nms:delivery'>"
        f"<sessiontoken>mid/mid</sessiontoken><deliveryPart>{document}</deliveryPart>"
        "<retry>true</retry></AppendDeliveryPart></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
    response = await soap(mid, body)
    assert outputs_of(response.content, "fatalError") == ["0"], response.text
    assert (await settle(mid, 1)) == {"sent": 1}


async def test_logs_are_read_with_a_cursor_in_pages_and_per_instance(
    mid: httpx.AsyncClient,
) -> None:
    mine = [email(f"one{i}@example.com", instance=1) for i in range(5)]
    theirs = [email(f"two{i}@example.com", instance=2) for i in range(3)]
    proof = email("seed@example.com", event_id=0, id="proof-1", proof=True)
    await append(mid, part(*mine, *theirs, proof))
    await settle(mid, 9)

    everything, cursor = await pull_logs(mid)
    assert len(everything) == 9
    seqs = [log.seq for log in everything]
    assert seqs == sorted(seqs) and len(set(seqs)) == 9
    assert cursor == str(seqs[-1])
    again, same = await pull_logs(mid, cursor=cursor)
    assert (again, same) == ([], cursor)

    response = await soap(mid, logs_envelope(limit=2, instance=1))
    first, next_cursor = read_logs(response.content)
    assert [log.message_id for log in first] == [m.id for m in mine[:2]]
    rest, _ = await pull_logs(mid, instance=1, cursor=next_cursor)
    assert [log.message_id for log in rest] == [m.id for m in mine[2:]]
    assert all(log.status is LogStatus.SENT and log.text for log in first + rest)
    two, _ = await pull_logs(mid, instance=2)
    assert sorted(log.message_id for log in two) == sorted(m.id for m in theirs)
    assert all(log.event_id >> 56 == 2 for log in two)
    assert "proof-1" not in {log.message_id for log in first + rest + two}
    assert "proof-1" in {log.message_id for log in everything}


@pytest.mark.parametrize("cursor", ["abc", "-1", "1" * 30])
async def test_a_bad_cursor_is_a_client_fault(mid: httpx.AsyncClient, cursor: str) -> None:
    response = await soap(mid, logs_envelope(cursor=cursor))
    fault = fault_of(response.content)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert "cursor" in fault["detail"]


async def test_logoff_ends_the_session(mid: httpx.AsyncClient) -> None:
    (session,) = outputs_of(
        (await soap(mid, logon_envelope("mid", "mid"))).content, "pstrSessionToken"
    )
    logoff = await soap(mid, envelope("xtk:session", "Logoff", [("sessiontoken", session)]))
    assert logoff.status_code == 200
    after = await soap(mid, append_envelope(part(email("a@example.com")), token=session))
    assert fault_of(after.content)["faultstring"].startswith("XSV-350008")


# -- zeep, from the WSDL the server serves ------------------------------------------------------


async def _zeep_client(mid: httpx.AsyncClient, schema: str) -> zeep.Client:
    wsdl = await mid.get("/nl/jsp/schemawsdl.jsp", params={"schema": schema})
    assert wsdl.status_code == 200
    return zeep.Client(io.BytesIO(wsdl.content), settings=zeep.Settings(strict=True))


async def _zeep_call(
    mid: httpx.AsyncClient, client: zeep.Client, operation: str, **values: Any
) -> Any:
    message = client.create_message(client.service, operation, **values)
    binding = client.service._binding
    action = binding.get(operation).soapaction
    answer = await mid.post(
        ROUTER,
        content=etree.tostring(message),
        headers={"content-type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'},
    )
    response = requests.Response()
    response.status_code = answer.status_code
    response._content = answer.content
    response.headers["Content-Type"] = answer.headers["content-type"]
    response.encoding = "utf-8"
    return binding.process_reply(client, binding.get(operation), response)


async def test_zeep_clients_log_on_append_and_read_logs(mid: httpx.AsyncClient) -> None:
    session = await _zeep_client(mid, "xtk:session")
    logon = await _zeep_call(
        mid, session, "Logon", sessiontoken="", strLogin="mid", strPassword="mid", elemParameters={}
    )
    token = logon.pstrSessionToken
    assert token.startswith("___")

    delivery = await _zeep_client(mid, "nms:delivery")
    messages = [email("zeep1@example.com"), email("zeep2@example.com")]
    document = render_delivery_part(part(*messages, part_id="zeep-part"))
    appended = await _zeep_call(
        mid,
        delivery,
        "AppendDeliveryPart",
        sessiontoken=token,
        deliveryPart={"_value_1": document},
        retry=False,
    )
    assert appended.fatalError == 0 and appended.deliveryPartId > 0
    again = await _zeep_call(
        mid,
        delivery,
        "AppendDeliveryPart",
        sessiontoken=token,
        deliveryPart={"_value_1": document},
        retry=True,
    )
    assert again.deliveryPartId == appended.deliveryPartId
    await settle(mid, 2)

    pulled = await _zeep_call(
        mid,
        delivery,
        "GetDeliveryLogs",
        sessiontoken="mid/mid",
        cursor="",
        limit=10,
        instanceId=1,
    )
    logs = pulled.deliveryLogs._value_1
    assert etree.QName(logs).localname == "deliveryLogs"
    assert sorted(e.get("messageId") for e in logs) == sorted(m.id for m in messages)
    assert {e.get("status") for e in logs} == {"sent"}
    assert pulled.nextCursor == logs[-1].get("seq")


async def test_a_database_failure_is_a_server_fault_and_the_retried_part_goes_through(
    mid: httpx.AsyncClient,
) -> None:
    db = mid._transport.app.state.db  # type: ignore[attr-defined]
    with db.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE message_keys RENAME TO message_keys_away")
    delivery_part = part(email("ann@example.com"))
    try:
        response = await soap(mid, append_envelope(delivery_part))
        assert response.status_code == 500
        fault = fault_of(response.content)
        assert fault["faultcode"] == "SOAP-ENV:Server"
        assert "retry later" in fault["faultstring"]
    finally:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE message_keys_away RENAME TO message_keys")
    assert (await mid.get("/api/v1/messages/counts")).json()["total"] == 0
    assert await append(mid, delivery_part) > 0
    assert await settle(mid, 1) == {"sent": 1}


async def test_soap_calls_keep_their_request_id_on_the_fast_path(mid: httpx.AsyncClient) -> None:
    # The router is served ahead of the middleware stack; it still names every call.
    given = await soap(mid, logs_envelope(), **{"x-request-id": "caller-chosen-42"})
    assert given.status_code == 200, given.text
    assert given.headers["x-request-id"] == "caller-chosen-42"
    made = await soap(mid, append_envelope(part(email("ann@example.com")), token="mid/nope"))
    assert made.status_code == 500
    assert made.headers["x-request-id"]
    assert fault_of(made.content)["faultcode"] == "SOAP-ENV:Client"
    other = await mid.get("/api/v1/messages/counts")  # other routes: the whole stack as before
    assert other.headers["x-request-id"]


async def test_a_first_whole_part_is_logged_at_debug_and_a_part_sent_again_at_info(
    make_mid: MidFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="mcsim.mid.soap")
    async with make_mid() as mid:
        first = part(email("ann@example.com"))
        await append(mid, first)
        await append(mid, first)  # the same part again: its message is a duplicate
    lines = [r for r in caplog.records if r.getMessage() == "delivery part accepted"]
    assert [(r.levelno, r.duplicates) for r in lines] == [  # type: ignore[attr-defined]
        (logging.DEBUG, 0),
        (logging.INFO, 1),
    ]
