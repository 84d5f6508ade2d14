"""The IMS emulator of the control instance: token exchange, Adobe's error answers, the JWKS,
technical accounts and the rotation of their client secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from control_instance.app import create_app
from control_instance.settings import ControlSettings
from tests.support.asgi import serve
from tests.support.ims import SCOPE, TOKEN, admin_headers, create_account, exchange, verify


def settings(data: Path, **changes: Any) -> ControlSettings:
    """Return a control instance's settings with no execution instance."""
    return ControlSettings(data_dir=data, archive_interval_seconds=0, **changes)


@pytest.fixture
async def control(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A control instance alone."""
    async with serve(create_app(settings(tmp_path))) as client:
        yield client


async def test_a_client_credentials_exchange_answers_a_signed_token_as_ims_does(
    control: httpx.AsyncClient,
) -> None:
    account = await create_account(control)
    client_id = account["technical_account"]["client_id"]
    assert len(client_id) == 32
    answer = await exchange(control, client_id, account["client_secret"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399  # seconds, as IMS answers for 24 h
    assert answer.headers["cache-control"] == "no-store"
    jwks = (await control.get("/ims/keys")).json()
    assert all("d" not in key for key in jwks["keys"])  # never the private half
    claims = verify(body["access_token"], jwks)
    assert claims["type"] == "access_token"
    assert claims["client_id"] == client_id
    assert claims["user_id"] == account["technical_account"]["technical_account_id"]
    assert claims["user_id"].endswith("@techacct.adobe.com")
    assert claims["scope"] == SCOPE
    assert claims["product_profiles"] == ["campaign - mcsim - messagecenter"]
    assert claims["expires_in"] == "86400000"  # IMS's claims are milliseconds, as strings
    assert claims["exp"] - claims["iat"] == 86400
    # Query parameters are accepted too, as IMS does; spaces separate scopes as well.
    query = await control.post(
        TOKEN,
        params={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": account["client_secret"],
            "scope": "openid AdobeID",
        },
    )
    assert query.status_code == 200, query.text
    # HTTP Basic, the default of OAuth client libraries (RFC 6749 §2.3.1), works too.
    basic = await control.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": SCOPE},
        auth=(client_id, account["client_secret"]),
    )
    assert basic.status_code == 200, basic.text
    wrong = await control.post(
        TOKEN, data={"grant_type": "client_credentials", "scope": SCOPE}, auth=(client_id, "no")
    )
    assert wrong.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("form", "error", "description"),
    [
        ({"client_id": "nobody-at-all"}, "invalid_client", "invalid client_id parameter"),
        ({"client_secret": "p8e-not-the-secret"}, "invalid_client", "invalid client_secret"),
        ({"client_secret": ""}, "invalid_client", "invalid client_secret parameter"),
        ({"scope": ""}, "invalid_scope", "invalid_scope"),
        ({"scope": "openid,creative_sdk"}, "invalid_scope", "invalid_scope"),
        ({"grant_type": "password"}, "unsupported_grant_type", "unsupported grant_type"),
        ({"grant_type": ""}, "invalid_request", "grant_type parameter is required"),
    ],
)
async def test_refused_exchanges_answer_oauth_errors_and_issue_nothing(
    control: httpx.AsyncClient, form: dict[str, str], error: str, description: str
) -> None:
    account = await create_account(control)
    good = {
        "grant_type": "client_credentials",
        "client_id": account["technical_account"]["client_id"],
        "client_secret": account["client_secret"],
        "scope": SCOPE,
    }
    answer = await control.post(TOKEN, data={**good, **form})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == error
    assert body["error_description"].startswith(description)
    assert "access_token" not in body
    assert body["detail"]  # says exactly what was wrong
    wrong_type = await control.post(TOKEN, content=b'{"a": 1}', headers={"content-type": "x/y"})
    assert wrong_type.status_code == 400


async def test_secrets_rotate_and_are_never_shown_again(control: httpx.AsyncClient) -> None:
    admin = await admin_headers(control)
    account = await create_account(control)
    first = account["client_secret"]
    account_id = account["technical_account"]["id"]
    client_id = account["technical_account"]["client_id"]
    added = await control.post(f"/api/v1/technical-accounts/{account_id}/secrets", headers=admin)
    assert added.status_code == 201
    second = added.json()["client_secret"]
    assert second.startswith("p8e-") and second != first
    for secret in (first, second):
        assert (await exchange(control, client_id, secret)).status_code == 200
    listing = await control.get("/api/v1/technical-accounts", headers=admin)
    assert first not in listing.text and second not in listing.text
    assert "hash" not in listing.text
    secrets = listing.json()["items"][0]["client_secrets"]
    assert len(secrets) == 2 and secrets[0]["last_used_at"] is not None
    old = secrets[0]["uuid"]
    path = f"/api/v1/technical-accounts/{account_id}/secrets"
    assert (await control.delete(f"{path}/{old}", headers=admin)).status_code == 204
    refused = await exchange(control, client_id, first)
    assert refused.json()["error"] == "invalid_client"
    assert (await exchange(control, client_id, second)).status_code == 200
    last = (await control.get(f"/api/v1/technical-accounts/{account_id}", headers=admin)).json()
    only = last["client_secrets"][0]["uuid"]
    kept = await control.delete(f"{path}/{only}", headers=admin)
    assert kept.status_code == 409
    assert (await exchange(control, client_id, second)).status_code == 200
    missing = await control.delete(f"{path}/not-a-secret", headers=admin)
    assert missing.status_code == 404


async def test_accounts_are_admin_only_and_validated(control: httpx.AsyncClient) -> None:
    admin = await admin_headers(control)
    anonymous = await control.get("/api/v1/technical-accounts")
    assert anonymous.status_code == 401
    await control.post(
        "/api/v1/operators",
        json={"login": "viewer-1", "role": "viewer", "password": "password-viewer"},
        headers=admin,
    )
    login = await control.post(
        "/api/v1/auth/login", json={"login": "viewer-1", "password": "password-viewer"}
    )
    viewer = {"authorization": f"Bearer {login.json()['access_token']}"}
    assert (await control.get("/api/v1/technical-accounts", headers=viewer)).status_code == 403
    bad = await control.post(
        "/api/v1/technical-accounts", json={"name": "x", "scopes": ["no spaces"]}, headers=admin
    )
    assert bad.status_code == 400
    await create_account(control, client_id="shop-client-1")
    twice = await control.post(
        "/api/v1/technical-accounts",
        json={"name": "again", "client_id": "shop-client-1"},
        headers=admin,
    )
    assert twice.status_code == 409
    listing = await control.get("/api/v1/technical-accounts", headers=admin)
    assert listing.json()["total"] == 1


async def test_profiles_and_scopes_changed_apply_to_the_next_tokens(
    control: httpx.AsyncClient,
) -> None:
    admin = await admin_headers(control)
    account = await create_account(control, product_profiles=[], scopes=["openid", "AdobeID"])
    public = account["technical_account"]
    token = (
        await exchange(control, public["client_id"], account["client_secret"], "openid")
    ).json()
    jwks = (await control.get("/ims/keys")).json()
    assert verify(token["access_token"], jwks)["product_profiles"] == []
    assert (
        await exchange(control, public["client_id"], account["client_secret"])
    ).status_code == 400
    changed = await control.patch(
        f"/api/v1/technical-accounts/{public['id']}",
        json={
            "product_profiles": ["campaign - mcsim - messagecenter"],
            "scopes": ["openid", "session"],
        },
        headers=admin,
    )
    assert changed.status_code == 200
    token = (
        await exchange(control, public["client_id"], account["client_secret"], "openid,session")
    ).json()
    claims = verify(token["access_token"], jwks)
    assert claims["product_profiles"] == ["campaign - mcsim - messagecenter"]
    deleted = await control.delete(f"/api/v1/technical-accounts/{public['id']}", headers=admin)
    assert deleted.status_code == 204
    gone = await exchange(control, public["client_id"], account["client_secret"], "openid")
    assert gone.json()["error"] == "invalid_client"


async def test_tokens_outlive_a_restart_and_the_ttl_is_a_setting(tmp_path: Path) -> None:
    async with serve(create_app(settings(tmp_path, ims_token_ttl_seconds=120))) as control:
        account = await create_account(control)
        public = account["technical_account"]
        answer = await exchange(control, public["client_id"], account["client_secret"])
        assert answer.json()["expires_in"] == 119
        token = answer.json()["access_token"]
    async with serve(create_app(settings(tmp_path))) as control:
        jwks = (await control.get("/ims/keys")).json()
        assert len(jwks["keys"]) == 1  # the same key, read back, not a new one
        assert verify(token, jwks)["client_id"] == public["client_id"]
        again = await exchange(control, public["client_id"], account["client_secret"])
        assert (
            jwt.get_unverified_header(again.json()["access_token"])["kid"]
            == (jwt.get_unverified_header(token)["kid"])
        )


async def test_wrong_secrets_are_throttled_per_client_and_address(tmp_path: Path) -> None:
    async with serve(create_app(settings(tmp_path, login_max_failures=2))) as control:
        account = await create_account(control)
        client_id = account["technical_account"]["client_id"]
        for _ in range(2):
            wrong = await exchange(control, client_id, "p8e-a-wrong-guess")
            assert wrong.json()["error"] == "invalid_client"
        locked = await exchange(control, client_id, account["client_secret"])
        assert locked.status_code == 429
        assert locked.json()["error"] == "too_many_requests"
        assert "retry in" in locked.json()["detail"]
        # Another client is not locked out by this one's failures.
        other = await create_account(control, name="Other")
        other_id = other["technical_account"]["client_id"]
        assert (await exchange(control, other_id, other["client_secret"])).status_code == 200
