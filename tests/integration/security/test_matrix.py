"""Every route of the execution instance and of mid-sourcing against every kind of caller
(issue 17 item 6): exactly the callers the README's "What each credential can do" names get
through, from inside and from outside the security zones, and from another site's page. And no
password or token ever reaches a log line.

"Gets through" means the route answered something else than 401 or 403 (with the dummy inputs
used here, often a 400 or 404 of the route itself); a SOAP call gets through when it answers
200. The control instance's routes and roles have their own table (tests/integration/control/
test_roles.py), the load balancer's admin API its tests (tests/integration/load_balancer/
test_admin.py).
"""

from __future__ import annotations

import enum
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from midsourcing.app import create_app as create_mid
from midsourcing.settings import MidSettings
from services.dev_credentials import CONTROL_PLANE, OPERATOR, TECHNICAL_TOKEN
from tests.integration.midsourcing.support import logs_envelope
from tests.support.asgi import serve
from tests.support.soap import logon_envelope, push_event_envelope

INSIDE = ("127.0.0.1", 40_000)
OUTSIDE = ("203.0.113.9", 40_000)  # in no security zone of the development defaults
CROSS_SITE = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
SOAP_ROUTER = "/nl/jsp/soaprouter.jsp"


def _basic(login: str, password: str) -> dict[str, str]:
    return {"authorization": httpx.BasicAuth(login, password)._auth_header}


#: The kinds of caller: the headers each sends, and its ``<sessiontoken>`` on a SOAP call
#: (``login/password``; a bearer token travels in the header only).
CALLERS: dict[str, tuple[dict[str, str], str]] = {
    "anonymous": ({}, ""),
    "execution operator": (_basic(*OPERATOR), "/".join(OPERATOR)),
    "technical token": ({"authorization": f"Bearer {TECHNICAL_TOKEN}"}, ""),
    "control-plane account": (_basic(*CONTROL_PLANE), "/".join(CONTROL_PLANE)),
    "mid-sourcing operator": (_basic("mid", "mid"), "mid/mid"),
    "balancer admin token": ({"authorization": "Bearer mcsim-dev-lb-admin"}, ""),
}


class Kind(enum.Enum):
    """Who a route is for."""

    PUBLIC = "anyone (health, pings, docs)"
    WSDL = "anyone; a bearer token sent along must open the intake (as under IMS)"
    CONTROL = "the control-plane account, inside the zones, never from another site"
    REST = "a technical token, inside the zones (a browser never sends it by itself)"
    SOAP = "an intake credential, inside the zones, never from another site"
    DELIVERY = "the mid-sourcing operator, inside the zones, never from another site"
    MAILBOX = "anyone (no login, as Mailpit); a POST never from another site"


def _execution_kind(method: str, path: str) -> Kind:
    if path.startswith("/_mc/"):
        return Kind.CONTROL
    if path.startswith("/{org}/"):
        return Kind.REST
    if path == SOAP_ROUTER:
        return Kind.SOAP
    if path.endswith("schemawsdl.jsp"):
        return Kind.WSDL
    return Kind.PUBLIC


def _mid_kind(method: str, path: str) -> Kind:
    if path == SOAP_ROUTER:
        return Kind.DELIVERY
    return Kind.MAILBOX if path.startswith("/api/") else Kind.PUBLIC


def allowed(kind: Kind, caller: str, *, outside: bool, cross_site: bool, method: str) -> bool:
    """What the README documents."""
    if kind is Kind.PUBLIC:
        return True
    if kind is Kind.WSDL:
        bearer = caller in ("technical token", "balancer admin token")
        return not bearer or (caller == "technical token" and not outside)
    if kind is Kind.CONTROL:
        return caller == "control-plane account" and not outside and not cross_site
    if kind is Kind.REST:
        return caller == "technical token" and not outside
    if kind is Kind.SOAP:
        intake = caller in ("technical token", "execution operator")
        return intake and not outside and not cross_site
    if kind is Kind.DELIVERY:
        return caller == "mid-sourcing operator" and not outside and not cross_site
    return not (cross_site and method == "POST")


_VALUES = {
    "{org}": "acme",
    "{api}": "mcacme",
    "{event_id}": "EVTPASSWORD_RESET",
    "{pkey}": "72057594037927937",
    "{name}": "x",
    "{login}": "x",
    "{message_id}": "1",
    "{address}": "ann@example.com",
    "{channel}": "email",
}
_BODIES: dict[str, Any] = {"/api/v1/clock": {"advance": "1m"}, "/_mc/clock": {"advance": "1m"}}


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    paths = app.openapi()["paths"]
    found = [(m.upper(), p) for p, operations in paths.items() for m in operations]
    # Streams never end; the SOAP router is served on the fast path, outside the OpenAPI.
    return [r for r in found if not r[1].endswith("/stream")] + [("POST", SOAP_ROUTER)]


async def _call(
    client: httpx.AsyncClient, kind: Kind, method: str, path: str, caller: str, cross_site: bool
) -> httpx.Response:
    headers, sessiontoken = CALLERS[caller]
    headers = {**headers, **(CROSS_SITE if cross_site else {})}
    url = path
    for key, value in _VALUES.items():
        url = url.replace(key, value)
    if kind is Kind.SOAP:
        soap = {"content-type": "text/xml", "soapaction": "nms:rtEvent#PushEvent"}
        envelope = push_event_envelope(token=sessiontoken).encode()
        return await client.post(url, content=envelope, headers={**headers, **soap})
    if kind is Kind.DELIVERY:
        soap = {"content-type": "text/xml", "soapaction": "nms:delivery#GetDeliveryLogs"}
        envelope = logs_envelope(token=sessiontoken).encode()
        return await client.post(url, content=envelope, headers={**headers, **soap})
    if path.endswith("schemawsdl.jsp"):
        return await client.get(url, params={"schema": "nms:rtEvent"}, headers=headers)
    options: dict[str, Any] = {}
    if method in ("POST", "PUT"):
        options["json"] = _BODIES.get(path, {})
    return await client.request(method, url, headers=headers, **options)


def _through(path: str, answer: httpx.Response) -> bool:
    if path == SOAP_ROUTER:
        return answer.status_code == 200
    return answer.status_code not in (401, 403)


async def _matrix(app: FastAPI, kind_of: Any) -> list[str]:
    """Call every route as every caller; return the cells that differ from the table."""
    wrong: list[str] = []
    async with app.router.lifespan_context(app):
        for outside in (False, True):
            transport = httpx.ASGITransport(app=app, client=OUTSIDE if outside else INSIDE)
            async with httpx.AsyncClient(transport=transport, base_url="http://mcsim.test") as c:
                for method, path in _routes(app):
                    kind = kind_of(method, path)
                    for cross_site in (False, True):
                        for caller in CALLERS:
                            answer = await _call(c, kind, method, path, caller, cross_site)
                            expected = allowed(
                                kind, caller, outside=outside, cross_site=cross_site, method=method
                            )
                            if _through(path, answer) != expected:
                                where = "outside" if outside else "inside"
                                site = ", another site" if cross_site else ""
                                wrong.append(
                                    f"{method} {path} as {caller} ({where}{site}): "
                                    f"HTTP {answer.status_code}, expected "
                                    f"{'through' if expected else 'refused'} ({kind.value})"
                                )
    return wrong


async def test_every_execution_route_lets_through_exactly_the_documented_callers(
    tmp_path: Path,
) -> None:
    settings = ExecutionSettings(data_dir=tmp_path, workers=0, event_types=["PASSWORD_RESET"])
    wrong = await _matrix(create_execution(settings), _execution_kind)
    assert wrong == [], "\n".join(wrong)


async def test_every_mid_sourcing_route_lets_through_exactly_the_documented_callers(
    tmp_path: Path,
) -> None:
    wrong = await _matrix(create_mid(MidSettings(data_dir=tmp_path)), _mid_kind)
    assert wrong == [], "\n".join(wrong)


SECRETS = {
    "operator": "op-Secret-4711-pw",
    "token": "tok-Secret-4711-0123456789",
    "control": "ctl-Secret-4711-password",
    "mid": "mid-Secret-4711-password",
}


async def test_passwords_and_tokens_never_reach_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every credential is used, right and wrong, on every service's entry points; no log
    record (its message, arguments or structured fields) holds one of them."""
    caplog.set_level(logging.DEBUG)
    execution = create_execution(
        ExecutionSettings(
            data_dir=tmp_path,
            workers=0,
            event_types=["PASSWORD_RESET"],
            operators={"shop": SECRETS["operator"]},
            technical_tokens=[SECRETS["token"]],
            control_password=SECRETS["control"],
        )
    )
    mid = create_mid(MidSettings(data_dir=tmp_path, operators={"mid": SECRETS["mid"]}))
    soap = {"content-type": "text/xml", "soapaction": "nms:rtEvent#PushEvent"}
    async with serve(execution) as client, serve(mid) as delivery:
        for password in (SECRETS["operator"], SECRETS["operator"] + "-wrong"):
            await client.post(
                SOAP_ROUTER,
                content=logon_envelope("shop", password).encode(),
                headers={"content-type": "text/xml", "soapaction": "xtk:session#Logon"},
            )
            envelope = push_event_envelope(token=f"shop/{password}").encode()
            await client.post(SOAP_ROUTER, content=envelope, headers=soap)
        for token in (SECRETS["token"], SECRETS["token"] + "-wrong"):
            bearer = {"authorization": f"Bearer {token}"}
            await client.post(
                "/acme/campaign/mcacme/EVTPASSWORD_RESET",
                json={"email": "ann@example.com", "ctx": {}},
                headers=bearer,
            )
            await client.post(SOAP_ROUTER, content=push_event_envelope().encode(), headers=soap)
        for password in (SECRETS["control"], SECRETS["control"] + "-wrong"):
            await client.get("/_mc/info", auth=(CONTROL_PLANE[0], password))
            await client.put(
                "/_mc/operators/web",
                json={"password": SECRETS["operator"] + "-2"},
                auth=(CONTROL_PLANE[0], password),
            )
        for password in (SECRETS["mid"], SECRETS["mid"] + "-wrong"):
            envelope = logs_envelope(token=f"mid/{password}").encode()
            await delivery.post(SOAP_ROUTER, content=envelope, headers={"content-type": "text/xml"})
    # The calls were logged (with who made them), so the check below looks at real lines.
    logged = [r for r in caplog.records if r.name == "mcsim.http"]
    assert any("soaprouter.jsp" in r.getMessage() for r in logged), "no request was logged"
    assert any("fault" in r.getMessage() for r in caplog.records), "no refusal was logged"
    leaks = [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        for secret in SECRETS.values()
        if secret in repr(record.__dict__) or secret in record.getMessage()
    ]
    assert leaks == []
