"""Logins, bearer tokens, cookie sessions with CSRF, throttling, and the development admin."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from control_instance.app import create_app
from control_instance.settings import ControlSettings
from tests.integration.control.conftest import Cell
from tests.support.asgi import serve


async def test_login_gives_a_bearer_token_that_logout_revokes(cell: Cell) -> None:
    answer = await cell.control.post(
        "/api/v1/auth/login", json={"login": "admin", "password": "admin"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer"
    assert body["operator"]["role"] == "admin"
    assert "password" not in str(body["operator"]).lower()
    headers = {"authorization": f"Bearer {body['access_token']}"}
    me = await cell.control.get("/api/v1/auth/me", headers=headers)
    assert me.json()["login"] == "admin"
    assert (await cell.control.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    after = await cell.control.get("/api/v1/auth/me", headers=headers)
    assert after.status_code == 401
    assert after.json()["error"] == "unauthorized"


async def test_wrong_passwords_and_unknown_logins_are_refused_alike(cell: Cell) -> None:
    wrong = await cell.control.post("/api/v1/auth/login", json={"login": "admin", "password": "x"})
    unknown = await cell.control.post(
        "/api/v1/auth/login", json={"login": "nobody", "password": "x"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    forged = await cell.control.get("/api/v1/auth/me", headers={"authorization": "Bearer forged"})
    assert forged.status_code == 401


async def test_repeated_failures_lock_the_login_out(cell: Cell) -> None:
    for _ in range(5):
        failed = await cell.control.post(
            "/api/v1/auth/login", json={"login": "admin", "password": "guess"}
        )
        assert failed.status_code == 401
    locked = await cell.control.post(
        "/api/v1/auth/login", json={"login": "admin", "password": "admin"}
    )
    assert locked.status_code == 429
    assert locked.json()["error"] == "rate_limited"
    assert "retry in" in locked.json()["detail"]


async def test_a_cookie_session_needs_its_csrf_token_for_changes(cell: Cell) -> None:
    opened = await cell.control.post(
        "/api/v1/auth/session", json={"login": "admin", "password": "admin"}
    )
    assert opened.status_code == 200
    csrf = opened.json()["csrf_token"]
    set_cookies = opened.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookies if c.startswith("mcsim_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=strict" in session_cookie
    assert cell.control.cookies.get("mcsim_csrf") == csrf

    # Reading with the cookie alone works; a change without the CSRF token does not.
    assert (await cell.control.get("/api/v1/auth/me")).status_code == 200
    body = {"name": "CSRF_TEST", "label": "x"}
    missing = await cell.control.post("/api/v1/event-types", json=body)
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["message"]
    wrong = await cell.control.post(
        "/api/v1/event-types", json=body, headers={"X-CSRF-Token": "not-it"}
    )
    assert wrong.status_code == 403
    types = (await cell.control.get("/api/v1/event-types")).json()["items"]
    assert [t["name"] for t in types] == []
    right = await cell.control.post(
        "/api/v1/event-types", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert right.status_code == 201, right.text

    # A session token is not a bearer token.
    token = cell.control.cookies.get("mcsim_session")
    as_bearer = httpx.Headers({"authorization": f"Bearer {token}"})
    cell.control.cookies.clear()
    assert (await cell.control.get("/api/v1/auth/me", headers=as_bearer)).status_code == 401


async def test_a_new_password_ends_the_old_tokens(cell: Cell) -> None:
    admin = await cell.login()
    editor = await cell.as_role("editor")
    me = (await cell.control.get("/api/v1/auth/me", headers=editor)).json()
    changed = await cell.control.patch(
        f"/api/v1/operators/{me['id']}", json={"password": "another-pass"}, headers=admin
    )
    assert changed.status_code == 200
    assert (await cell.control.get("/api/v1/auth/me", headers=editor)).status_code == 401
    await cell.login("editor-user", "another-pass")


async def test_the_last_admin_stays_an_enabled_admin(cell: Cell) -> None:
    admin = await cell.login()
    me = (await cell.control.get("/api/v1/auth/me", headers=admin)).json()
    demote = await cell.control.patch(
        f"/api/v1/operators/{me['id']}", json={"role": "viewer"}, headers=admin
    )
    assert demote.status_code == 409
    delete = await cell.control.delete(f"/api/v1/operators/{me['id']}", headers=admin)
    assert delete.status_code == 409
    duplicate = await cell.control.post(
        "/api/v1/operators",
        json={"login": "admin", "role": "viewer", "password": "whatever1"},
        headers=admin,
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "login"


async def test_a_disabled_operator_cannot_log_in(cell: Cell) -> None:
    admin = await cell.login()
    viewer = await cell.as_role("viewer")
    me = (await cell.control.get("/api/v1/auth/me", headers=viewer)).json()
    await cell.control.patch(
        f"/api/v1/operators/{me['id']}", json={"disabled": True}, headers=admin
    )
    assert (await cell.control.get("/api/v1/auth/me", headers=viewer)).status_code == 401
    refused = await cell.control.post(
        "/api/v1/auth/login", json={"login": "viewer-user", "password": "password-viewer"}
    )
    assert refused.status_code == 401


def test_production_refuses_the_development_admin_password() -> None:
    with pytest.raises(ValidationError, match="development admin password is refused"):
        ControlSettings(environment="production", admin_password="admin")


async def test_production_refuses_a_login_with_the_development_password(tmp_path: Path) -> None:
    async with serve(create_app(ControlSettings(data_dir=tmp_path))) as development:
        ok = await development.post(
            "/api/v1/auth/login", json={"login": "admin", "password": "admin"}
        )
        assert ok.status_code == 200
    production = ControlSettings(
        data_dir=tmp_path, environment="production", admin_password="a-real-secret"
    )
    async with serve(create_app(production)) as control:
        refused = await control.post(
            "/api/v1/auth/login", json={"login": "admin", "password": "admin"}
        )
        assert refused.status_code == 403
        assert "refused in production" in refused.json()["message"]


async def test_production_without_an_admin_password_does_not_start(tmp_path: Path) -> None:
    settings = ControlSettings(data_dir=tmp_path, environment="production")
    with pytest.raises(Exception, match="no admin password"):
        async with serve(create_app(settings)):
            pass
