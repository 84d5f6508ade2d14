"""F8: the SOAP router refuses what a web page could send cross-site without a preflight."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.execution.conftest import stored_events
from tests.support.soap import fault_of, push_event_envelope

ROUTER = "/nl/jsp/soaprouter.jsp"
#: The review's drive-by: the method in the query string, the body posted as a "simple" type.
DRIVE_BY = ROUTER + "?soapAction=nms:rtEvent%23PushEvent"
EVIL = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=----x",
    ],
)
async def test_a_simple_cross_site_post_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, content_type: str
) -> None:
    answer = await client.post(
        DRIVE_BY,
        content=push_event_envelope().encode(),
        headers={"content-type": content_type, **EVIL},
    )
    assert answer.status_code == 415
    assert answer.headers["content-type"].startswith("text/xml")
    fault = fault_of(answer.content)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert "text/xml or application/soap+xml" in fault["faultstring"]
    assert content_type in fault["detail"]
    assert stored_events(client) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://testserver.evil.example"},
        {"sec-fetch-site": "cross-site"},
        EVIL,
    ],
    ids=["origin", "null-origin", "lookalike-origin", "sec-fetch-site", "both"],
)
async def test_a_soap_typed_call_from_another_site_is_refused(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await client.post(
        DRIVE_BY,
        content=push_event_envelope().encode(),
        headers={"content-type": "text/xml; charset=utf-8", **headers},
    )
    assert answer.status_code == 403
    fault = fault_of(answer.content)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert fault["faultstring"] == "Cross-site requests are refused."
    assert stored_events(client) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "text/xml; charset=utf-8", "SOAPAction": '"nms:rtEvent#PushEvent"'},
        {"content-type": "text/xml;charset=UTF-8", "soapAction": "nms:rtEvent#PushEvent"},
        {
            "content-type": "application/soap+xml;charset=UTF-8",
            "SoapAction": "nms:rtEvent#PushEvent",
        },
        {"content-type": "Application/SOAP+XML; action=nms:rtEvent#PushEvent"},
        {
            "content-type": "text/xml",
            "origin": "http://testserver",
            "sec-fetch-site": "same-origin",
        },
        {},  # no Content-Type at all: a script, never a browser without Origin
    ],
    ids=["dotnet-zeep-suds", "node", "js-sdk", "soap12-action", "same-origin", "bare"],
)
async def test_what_real_clients_send_is_accepted(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    answer = await client.post(DRIVE_BY, content=push_event_envelope().encode(), headers=headers)
    assert answer.status_code == 200, answer.text
    assert len(stored_events(client)) == 1
