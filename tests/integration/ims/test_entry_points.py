"""Every entry point of an execution instance accepts the IMS emulator's access tokens, verified
with the keys it publishes, and refuses them as Campaign refuses bad credentials."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from control_instance.app import create_app as create_control
from control_instance.settings import ControlSettings
from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from services.dev_credentials import TECHNICAL_TOKEN
from tests.support.asgi import serve
from tests.support.ims import admin_headers, create_account, exchange
from tests.support.soap import fault_of, outputs_of, push_event_envelope

CONTROL_URL = "http://control.test"
SOAP = "/nl/jsp/soaprouter.jsp"
REST = "/acme/campaign/mcacme/EVTPASSWORD_RESET"
BODY = {"email": "ann@example.com", "ctx": {"firstName": "Ann"}}


class Counting(httpx.AsyncBaseTransport):
    """Pass requests to the control instance, counting them by path."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Count, then forward."""
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)


@dataclass
class Cell:
    """A control instance (the IMS emulator) and one execution instance that trusts it."""

    control: httpx.AsyncClient
    execution: httpx.AsyncClient
    to_control: Counting
    secrets: dict[str, str] = field(default_factory=dict)

    async def token(self, **account: Any) -> tuple[str, str]:
        """Create a technical account; return its client id and a fresh access token."""
        created = await create_account(self.control, **account)
        client_id = created["technical_account"]["client_id"]
        self.secrets[client_id] = created["client_secret"]
        answer = await exchange(self.control, client_id, created["client_secret"])
        assert answer.status_code == 200, answer.text
        return client_id, answer.json()["access_token"]

    async def push(self, token: str, *, sessiontoken: str = "") -> httpx.Response:
        """PushEvent over SOAP with Authorization: Bearer and this <sessiontoken>."""
        return await self.execution.post(
            SOAP,
            content=push_event_envelope(token=sessiontoken),
            headers={
                "content-type": "text/xml",
                "SOAPAction": "nms:rtEvent#PushEvent",
                "authorization": f"Bearer {token}",
            },
        )

    async def rest(self, token: str, api_key: str | None) -> httpx.Response:
        """POST an event on the REST API."""
        headers = {"authorization": f"Bearer {token}"}
        if api_key is not None:
            headers["x-api-key"] = api_key
        return await self.execution.post(REST, json=BODY, headers=headers)


@asynccontextmanager
async def ims_cell(
    data: Path, *, control: dict[str, Any] | None = None, execution: dict[str, Any] | None = None
) -> AsyncIterator[Cell]:
    """Run a control instance and an execution instance in-process, wired over ASGI."""
    control_app = create_control(
        ControlSettings(data_dir=data, archive_interval_seconds=0, **(control or {}))
    )
    to_control = Counting(httpx.ASGITransport(app=control_app))
    async with AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(mounts={CONTROL_URL: to_control}))
        settings: dict[str, Any] = {"ims_url": CONTROL_URL, **(execution or {})}
        execution_app = create_execution(
            ExecutionSettings(data_dir=data, workers=0, event_types=["PASSWORD_RESET"], **settings),
            http_client=http,
        )
        control_client = await stack.enter_async_context(serve(control_app))
        execution_client = await stack.enter_async_context(serve(execution_app))
        yield Cell(control=control_client, execution=execution_client, to_control=to_control)


@pytest.fixture
async def cell(tmp_path: Path) -> AsyncIterator[Cell]:
    """The IMS emulator and an execution instance."""
    async with ims_cell(tmp_path) as running:
        yield running


async def test_soap_takes_the_token_with_an_empty_sessiontoken_and_reads_the_keys_once(
    cell: Cell,
) -> None:
    _, token = await cell.token()
    for _ in range(5):
        answer = await cell.push(token)
        assert answer.status_code == 200, answer.text
        assert int(outputs_of(answer.text, "plId")[0]) > 0
    # The keys were read once, at the first token: no call to IMS per request.
    assert cell.to_control.paths == ["/ims/keys"]
    # A second account's token is signed by the same key: still no call.
    _, other = await cell.token()
    assert (await cell.push(other)).status_code == 200
    assert cell.to_control.paths == ["/ims/keys"]


async def test_bearer_token_logon_opens_a_session_for_an_ims_token(cell: Cell) -> None:
    _, token = await cell.token()
    envelope = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:xtk:session"><soapenv:Body><urn:BearerTokenLogon>'
        f"<urn:sessiontoken/><urn:bearerToken>{token}</urn:bearerToken>"
        "</urn:BearerTokenLogon></soapenv:Body></soapenv:Envelope>"
    )
    answer = await cell.execution.post(
        SOAP,
        content=envelope,
        headers={"content-type": "text/xml", "SOAPAction": "xtk:session#BearerTokenLogon"},
    )
    assert answer.status_code == 200, answer.text
    session = outputs_of(answer.text, "pstrSessionToken")[0]
    security = outputs_of(answer.text, "pstrSecurityToken")[0]
    pushed = await cell.execution.post(
        SOAP,
        content=push_event_envelope(token=""),
        headers={
            "content-type": "text/xml",
            "SOAPAction": "nms:rtEvent#PushEvent",
            "cookie": f"__sessiontoken={session}",
            "X-Security-Token": security,
        },
    )
    assert pushed.status_code == 200, pushed.text
    bad = await cell.execution.post(
        SOAP,
        content=envelope.replace(token, token[:-4] + "AAAA"),
        headers={"content-type": "text/xml", "SOAPAction": "xtk:session#BearerTokenLogon"},
    )
    assert bad.status_code == 500
    assert "Invalid login or password" in fault_of(bad.text)["faultstring"] + fault_of(
        bad.text
    ).get("detail", "")


async def test_rest_needs_the_tokens_client_as_api_key(cell: Cell) -> None:
    client_id, token = await cell.token()
    created = await cell.rest(token, client_id)
    assert created.status_code == 201, created.text
    href = created.json()["href"]
    polled = await cell.execution.get(
        f"/acme/campaign/{href}",
        headers={"authorization": f"Bearer {token}", "x-api-key": client_id},
    )
    assert polled.status_code == 200, polled.text
    missing = await cell.rest(token, None)
    assert missing.status_code == 403
    assert missing.json()["message"] == "Api Key is required"
    other_client, _ = await cell.token()
    wrong = await cell.rest(token, other_client)
    assert wrong.status_code == 403
    assert wrong.json() | {"detail": ""} == {
        "error": "invalid_api_key",
        "message": "Api Key is invalid",
        "code": "403003",
        "detail": "",
        "field": "X-Api-Key",
    }
    # The static technical token keeps working, without an API key.
    static = await cell.rest(TECHNICAL_TOKEN, None)
    assert static.status_code == 201, static.text
    assert (await cell.push(TECHNICAL_TOKEN)).status_code == 200


async def test_a_token_without_the_message_center_profile_is_refused(cell: Cell) -> None:
    client_id, token = await cell.token(product_profiles=["campaign - mcsim - marketing"])
    answer = await cell.push(token)
    assert answer.status_code == 500
    fault = fault_of(answer.text)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert "campaign - mcsim - messagecenter" in fault["detail"]
    assert "Invalid login or password" in fault["detail"]
    rest = await cell.rest(token, client_id)
    assert rest.status_code == 401
    assert "messagecenter" in rest.json()["detail"]


def _forge(token: str, **claims: Any) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded.update(claims)
    changed = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    return f"{header}.{changed}.{signature}"


async def test_tampered_and_foreign_tokens_are_refused(cell: Cell) -> None:
    client_id, token = await cell.token(product_profiles=[])
    tampered = _forge(token, product_profiles=["campaign - mcsim - messagecenter"])
    kid = jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(token, options={"verify_signature": False})
    claims["product_profiles"] = ["campaign - mcsim - messagecenter"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    same_kid = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid})
    other_kid = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "evil-key"})
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": kid})
    for forged, why in (
        (tampered, "Signature verification failed"),
        (same_kid, "Signature verification failed"),
        (other_kid, "does not publish"),
        (unsigned, "not valid"),
    ):
        answer = await cell.push(forged)
        assert answer.status_code == 500, why
        assert why in fault_of(answer.text)["detail"]
        assert (await cell.rest(forged, client_id)).status_code == 401
    # An unknown key id reads the key set again, but not on every request: the set read a
    # moment ago is fresh enough (forged key ids cannot make IMS a target).
    for _ in range(3):
        await cell.push(other_kid)
    assert cell.to_control.paths == ["/ims/keys"]


async def test_the_wsdl_checks_a_bearer_token_when_one_is_sent(cell: Cell) -> None:
    _, token = await cell.token()
    wsdl = "/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent"
    assert (await cell.execution.get(wsdl)).status_code == 200
    good = await cell.execution.get(wsdl, headers={"authorization": f"Bearer {token}"})
    assert good.status_code == 200
    assert b"PushEvent" in good.content
    bad = await cell.execution.get(wsdl, headers={"authorization": f"Bearer {_forge(token)}x"})
    assert bad.status_code == 401


async def test_an_expired_token_is_refused_as_an_expired_session(tmp_path: Path) -> None:
    # A lifetime of a few seconds: with 1 s, a loaded machine let the token expire before the
    # first push (seen in CI).
    async with ims_cell(tmp_path, control={"ims_token_ttl_seconds": 4}) as cell:
        client_id, token = await cell.token()
        assert (await cell.push(token)).status_code == 200
        await asyncio.sleep(5.1)  # exp is whole seconds
        answer = await cell.push(token)
        assert answer.status_code == 500
        fault = fault_of(answer.text)
        assert fault["faultstring"].startswith("XSV-350008")
        assert "expired" in fault["detail"]
        rest = await cell.rest(token, client_id)
        assert rest.status_code == 401
        assert rest.json()["code"] == "XSV-350008"


async def test_an_instance_without_an_ims_url_refuses_ims_tokens_clearly(tmp_path: Path) -> None:
    async with ims_cell(tmp_path, execution={"ims_url": None}) as cell:
        _, token = await cell.token()
        answer = await cell.push(token)
        assert answer.status_code == 500
        assert "MCSIM_EXEC_IMS_URL" in fault_of(answer.text)["detail"]
        assert cell.to_control.paths == []


async def test_an_unreachable_ims_is_reported_as_such(tmp_path: Path) -> None:
    async with ims_cell(tmp_path, execution={"ims_url": "http://nowhere.invalid:1"}) as cell:
        _, token = await cell.token()
        answer = await cell.push(token)
        assert answer.status_code == 500
        fault = fault_of(answer.text)
        assert fault["faultcode"] == "SOAP-ENV:Server"
        assert "cannot read the IMS signing keys" in fault["faultstring"]


async def test_the_wsdl_can_need_a_bearer_token_as_under_ims(tmp_path: Path) -> None:
    async with ims_cell(tmp_path, execution={"wsdl_needs_bearer": True}) as cell:
        _, token = await cell.token()
        wsdl = "/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent"
        refused = await cell.execution.get(wsdl)
        assert refused.status_code == 401
        assert refused.json()["field"] == "Authorization"
        served = await cell.execution.get(wsdl, headers={"authorization": f"Bearer {token}"})
        assert served.status_code == 200
        static = await cell.execution.get(
            wsdl, headers={"authorization": f"Bearer {TECHNICAL_TOKEN}"}
        )
        assert static.status_code == 200


async def test_a_rotated_signing_key_is_read_and_the_old_one_retired(cell: Cell) -> None:
    client_id, old_token = await cell.token()
    assert (await cell.push(old_token)).status_code == 200
    admin = await admin_headers(cell.control)
    rotated = await cell.control.post("/api/v1/ims/signing-keys", headers=admin)
    assert rotated.status_code == 201
    new_kid = rotated.json()["kid"]
    listed = (await cell.control.get("/api/v1/ims/signing-keys", headers=admin)).json()
    assert [key["signing"] for key in listed] == [True, False]
    old_kid = listed[1]["kid"]
    answer = await exchange(cell.control, client_id, cell.secrets[client_id])
    new_token = answer.json()["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    await asyncio.sleep(5.1)  # the instance re-reads the set for an unknown key, not sooner
    assert (await cell.push(new_token)).status_code == 200
    assert (await cell.push(old_token)).status_code == 200  # still published
    assert cell.to_control.paths == ["/ims/keys", "/ims/keys"]
    current = await cell.control.delete(f"/api/v1/ims/signing-keys/{new_kid}", headers=admin)
    assert current.status_code == 409
    retired = await cell.control.delete(f"/api/v1/ims/signing-keys/{old_kid}", headers=admin)
    assert retired.status_code == 204
    keys = (await cell.control.get("/ims/keys")).json()["keys"]
    assert [key["kid"] for key in keys] == [new_kid]
