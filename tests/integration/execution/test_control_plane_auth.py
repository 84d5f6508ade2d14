"""Only the control-plane account opens ``/_mc/`` (security review F1): no intake credential.

The review's reproduction: a website given a technical token (or an execution operator, the
development token, ``mc/mc``, ``mc/`` in the development zone) read every event, created an
operator and published a template through ``/_mc/``. Each of those credentials still works for
the intake, and now gets 401 on every control-plane route.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution_instance.app import create_app
from execution_instance.settings import ExecutionSettings
from services.dev_credentials import CONTROL_PLANE, TECHNICAL_TOKEN
from tests.integration.execution.conftest import EVENT_TYPES, InstanceFactory, soap
from tests.support.asgi import serve
from tests.support.soap import push_event_envelope

PUSH = "nms:rtEvent#PushEvent"
WEBSITE_TOKEN = "sectest-token-0123456789"


async def _intake_credentials(client: httpx.AsyncClient) -> dict[str, dict[str, str]]:
    """Give the instance a website's token and operator, as the review did; return every
    intake credential as request headers, each checked to work on the intake."""
    put = await client.put(
        "/_mc/operators/secop", json={"password": "secop-pass-123"}, auth=CONTROL_PLANE
    )
    assert put.status_code == 204
    added = await client.post(
        "/_mc/technical-tokens",
        json={"token": WEBSITE_TOKEN, "label": "sec-tt"},
        auth=CONTROL_PLANE,
    )
    assert added.status_code == 204
    credentials = {
        "website token": {"authorization": f"Bearer {WEBSITE_TOKEN}"},
        "development token": {"authorization": f"Bearer {TECHNICAL_TOKEN}"},
        "website operator": _basic("secop", "secop-pass-123"),
        "mc/mc": _basic("mc", "mc"),
        "mc/ (empty password)": _basic("mc", ""),
    }
    for name, headers in credentials.items():  # each one is a working intake credential
        if headers["authorization"].startswith("Bearer"):
            envelope, extra = push_event_envelope(token=""), headers
        else:
            login_password = name if "/" in name else "secop/secop-pass-123"
            envelope, extra = push_event_envelope(token=login_password.split(" ")[0]), {}
        answer = await soap(client, envelope, action=PUSH, **extra)
        assert answer.status_code == 200, (name, answer.text)
    return credentials


def _basic(login: str, password: str) -> dict[str, str]:
    return {"authorization": httpx.BasicAuth(login, password)._auth_header}


def _routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    paths = transport.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [
        (method.upper(), path.replace("{name}", "x").replace("{login}", "x"))
        for path, operations in paths.items()
        if path.startswith("/_mc")
        for method in operations
    ]


async def test_no_intake_credential_opens_any_control_plane_route(
    client: httpx.AsyncClient,
) -> None:
    credentials = await _intake_credentials(client)
    routes = _routes(client)
    assert len(routes) >= 15  # every /_mc/ route of the instance, read from its router
    for name, headers in credentials.items():
        for method, path in routes:
            answer = await client.request(method, path, headers=headers, json={})
            assert answer.status_code == 401, (name, method, path, answer.text)
            assert "control-plane account" in answer.json()["detail"], answer.text


async def test_the_reviews_attack_changes_nothing(client: httpx.AsyncClient) -> None:
    await _intake_credentials(client)
    website = {"authorization": f"Bearer {WEBSITE_TOKEN}"}
    events = await client.get("/_mc/events", params={"limit": 5}, headers=website)
    assert events.status_code == 401
    evil = await client.put("/_mc/operators/evil", json={"password": "evil-pass"}, headers=website)
    assert evil.status_code == 401
    pushed = await soap(client, push_event_envelope(token="evil/evil-pass"), action=PUSH)
    assert pushed.status_code == 500
    assert "Invalid login or password" in pushed.text
    hijack = await client.put(
        "/_mc/templates/EVIL_email",
        headers=website,
        json={
            "event_type": "PASSWORD_RESET",
            "channel": 0,
            "version": 1,
            "content": {"subject": "HIJACKED reset", "html": "x", "text": "HIJACKED"},
        },
    )
    assert hijack.status_code == 401
    templates = await client.get("/_mc/templates", auth=CONTROL_PLANE)
    assert templates.json() == []


async def test_the_control_plane_account_works_and_a_wrong_password_does_not(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/_mc/info")).status_code == 401
    assert (await client.get("/_mc/info", auth=(CONTROL_PLANE[0], "bad"))).status_code == 401
    assert (await client.get("/_mc/info", auth=("mc", CONTROL_PLANE[1]))).status_code == 401
    info = await client.get("/_mc/info", auth=CONTROL_PLANE)
    assert info.status_code == 200, info.text
    assert info.json()["event_types"] == sorted(EVENT_TYPES)
    garbled = await client.get("/_mc/info", headers={"authorization": "Basic %%%"})
    assert garbled.status_code == 401


async def test_the_control_plane_account_is_not_an_intake_credential(
    client: httpx.AsyncClient,
) -> None:
    token = "/".join(CONTROL_PLANE)
    answer = await soap(client, push_event_envelope(token=token), action=PUSH)
    assert answer.status_code == 500
    assert "Invalid login or password" in answer.text


async def test_outside_development_the_control_plane_is_closed_without_a_password(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(environment="stage", operators={"mc": "stage-password"}) as client:
        answer = await client.get("/_mc/info", auth=CONTROL_PLANE)
        assert answer.status_code == 401
        assert "MCSIM_EXEC_CONTROL_PASSWORD" in answer.json()["detail"]


async def test_a_configured_account_replaces_the_development_one(tmp_path: object) -> None:
    settings = ExecutionSettings(
        data_dir=tmp_path,
        event_types=EVENT_TYPES,
        workers=0,
        control_login="ops",
        control_password="a-long-control-secret",
    )
    async with serve(create_app(settings)) as client:
        assert (await client.get("/_mc/info", auth=CONTROL_PLANE)).status_code == 401
        ok = await client.get("/_mc/info", auth=("ops", "a-long-control-secret"))
        assert ok.status_code == 200


def test_weak_or_development_control_passwords_are_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        ExecutionSettings(environment="stage", control_password="short")
    with pytest.raises(ValueError, match="control-plane password"):
        ExecutionSettings(
            environment="production",
            operators={"mc": "prod-password"},
            technical_tokens=["prod-token-0123456789"],
            control_password=CONTROL_PLANE[1],
        )


@settings(max_examples=60, deadline=None)
@given(login=st.text(max_size=20), password=st.text(max_size=40))
def test_only_the_exact_account_passes(login: str, password: str) -> None:
    from execution_instance.security.control_plane import ControlPlaneAuth
    from services.auth.zones import ZoneTable, default_zones
    from services.errors import AuthenticationFailed

    auth = ControlPlaneAuth(
        login=CONTROL_PLANE[0], password=CONTROL_PLANE[1], zones=ZoneTable(default_zones())
    )
    header = "Basic " + __import__("base64").b64encode(f"{login}:{password}".encode()).decode()
    if (login, password) == CONTROL_PLANE:
        assert auth.check(authorization=header, address="127.0.0.1") == login
    else:
        with pytest.raises(AuthenticationFailed):
            auth.check(authorization=header, address="127.0.0.1")
