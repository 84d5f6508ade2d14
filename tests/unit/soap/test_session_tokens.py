"""Where a SOAP call's session and security tokens are read from (the JS SDK sends them twice)."""

from __future__ import annotations

import re

import pytest
from starlette.requests import Request

from services.errors import InvalidRequest
from services.soap.envelope import read_call
from services.soap.persist import entity_md5, get_entity_if_more_recent
from services.soap.router import session_tokens

ENVELOPE = (
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/">'
    "<SOAP-ENV:Header>{header}</SOAP-ENV:Header><SOAP-ENV:Body>"
    '<m:GetEntityIfMoreRecent xmlns:m="urn:xtk:persist"><sessiontoken>{token}</sessiontoken>'
    "<pk>{pk}</pk><md5>{md5}</md5><mustExist>{must}</mustExist></m:GetEntityIfMoreRecent>"
    "</SOAP-ENV:Body></SOAP-ENV:Envelope>"
)


def request(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "POST", "headers": raw, "query_string": b""})


def envelope(
    header: str = "",
    token: str = "",
    pk: str = "xtk:schema|nms:rtEvent",
    md5: str = "",
    must: str = "false",
) -> bytes:
    return ENVELOPE.format(header=header, token=token, pk=pk, md5=md5, must=must).encode()


@pytest.mark.parametrize(
    ("headers", "header", "expected"),
    [
        ({}, "", (None, None)),
        ({"Cookie": "__sessiontoken=mc/mc"}, "", ("mc/mc", None)),
        ({"X-Session-Token": "mc/mc", "X-Security-Token": ""}, "", ("mc/mc", None)),
        ({}, "<Cookie>__sessiontoken=mc/mc</Cookie><X-Security-Token/>", ("mc/mc", None)),
        (
            {"X-Session-Token": "", "X-Security-Token": " "},
            "<Cookie>__sessiontoken=___S; other=1</Cookie><X-Security-Token>@s</X-Security-Token>",
            ("___S", "@s"),
        ),
        (
            {"Cookie": "__sessiontoken=___A", "X-Session-Token": "___B", "X-Security-Token": "@a"},
            "<Cookie>__sessiontoken=___C</Cookie><X-Security-Token>@c</X-Security-Token>",
            ("___A", "@a"),
        ),
    ],
)
def test_tokens_from_http_then_from_the_soap_header(
    headers: dict[str, str], header: str, expected: tuple[str | None, str | None]
) -> None:
    call = read_call(envelope(header=header))
    assert session_tokens(request(headers), call) == expected


def test_get_entity_if_more_recent_answers_from_the_available_schemas() -> None:
    reply = get_entity_if_more_recent(read_call(envelope()), available=("nms:rtEvent",))
    assert reply.status_code == 200
    text = reply.body.decode()
    assert "<pdomDoc xsi:type='ns:Element'" in text
    assert '<schema namespace="nms" name="rtEvent" xtkschema="xtk:schema">' in text
    hidden = get_entity_if_more_recent(read_call(envelope()), available=("nms:batchEvent",))
    assert "<schema" not in hidden.body.decode()
    md5 = entity_md5("nms:rtEvent")
    assert md5 is not None
    same = get_entity_if_more_recent(read_call(envelope(md5=md5)), available=("nms:rtEvent",))
    assert "<schema" not in same.body.decode()
    with pytest.raises(InvalidRequest, match=re.escape("'xtk:schema|nms:nope' does not exist")):
        get_entity_if_more_recent(
            read_call(envelope(pk="xtk:schema|nms:nope", must="1")), available=("nms:rtEvent",)
        )
