"""Technical accounts move between environments in packages, never with a secret."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from control_instance.app import create_app
from control_instance.settings import ControlSettings
from tests.support.asgi import serve
from tests.support.ims import admin_headers, create_account, exchange


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A development and a stage control instance."""
    dev = ControlSettings(data_dir=tmp_path / "dev", archive_interval_seconds=0)
    stage = ControlSettings(
        data_dir=tmp_path / "stage",
        archive_interval_seconds=0,
        environment="stage",
        admin_password="stage-admin-password",
        execution_password="stage-control-plane-password",
        midsourcing_password="stage-mid-password",
    )
    async with serve(create_app(dev)) as one, serve(create_app(stage)) as other:
        yield one, other


async def _stage_admin(stage: httpx.AsyncClient) -> dict[str, str]:
    answer = await stage.post(
        "/api/v1/auth/login", json={"login": "admin", "password": "stage-admin-password"}
    )
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


async def test_a_technical_account_moves_without_its_secret(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    dev, stage = two
    account = await create_account(
        dev, name="Shop", scopes=["openid", "AdobeID", "session"], client_id="shop-website-01"
    )
    secret = account["client_secret"]
    dev_admin = await admin_headers(dev)
    exported = await dev.get(
        "/api/v1/packages/export",
        params={"technical_account": "shop-website-01"},
        headers=dev_admin,
    )
    assert exported.status_code == 200, exported.text
    document = exported.text
    assert 'schema="mcsim:technicalAccount"' in document
    assert 'clientId="shop-website-01"' in document
    assert 'scopes="openid,AdobeID,session"' in document
    assert '<productProfile name="campaign - mcsim - messagecenter"/>' in document
    assert secret not in document and "secret" not in document.lower()
    assert "argon2" not in document
    assert "<delivery" not in document  # only what was chosen
    admin = await _stage_admin(stage)
    url = "/api/v1/packages/import"
    headers = {**admin, "content-type": "application/xml"}
    dry = await stage.post(url, params={"dry_run": True}, content=document, headers=headers)
    assert dry.status_code == 200, dry.text
    (change,) = dry.json()["changes"]
    assert change["schema_name"] == "mcsim:technicalAccount"
    assert change["action"] == "created"
    assert "without a client secret" in change["note"]
    assert (await stage.get("/api/v1/technical-accounts", headers=admin)).json()["total"] == 0
    applied = await stage.post(url, content=document, headers=headers)
    assert applied.json()["applied"] is True
    (imported,) = (await stage.get("/api/v1/technical-accounts", headers=admin)).json()["items"]
    assert imported["client_id"] == "shop-website-01"
    assert imported["scopes"] == ["openid", "AdobeID", "session"]
    assert imported["client_secrets"] == []
    # The development secret does not open stage; a secret made there does.
    refused = await exchange(stage, "shop-website-01", secret)
    assert refused.json()["error"] == "invalid_client"
    assert "no client secret" in refused.json()["detail"]
    added = await stage.post(f"/api/v1/technical-accounts/{imported['id']}/secrets", headers=admin)
    stage_secret = added.json()["client_secret"]
    assert (await exchange(stage, "shop-website-01", stage_secret)).status_code == 200
    # Importing again changes nothing; a renamed account is updated and keeps its secret.
    again = await stage.post(url, content=document, headers=headers)
    assert again.json()["unchanged"] == 1
    renamed = document.replace('name="Shop"', 'name="Shop (stage)"')
    updated = await stage.post(url, content=renamed, headers=headers)
    assert updated.json()["changes"][0]["fields"] == ["name"]
    assert (await exchange(stage, "shop-website-01", stage_secret)).status_code == 200


async def test_a_package_carrying_a_secret_is_refused_and_changes_nothing(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    dev, stage = two
    await create_account(dev, name="Shop", client_id="shop-website-02")
    exported = await dev.get(
        "/api/v1/packages/export",
        params={"technical_account": "shop-website-02"},
        headers=await admin_headers(dev),
    )
    admin = await _stage_admin(stage)
    headers = {**admin, "content-type": "application/xml"}
    for bad, field in (
        (
            exported.text.replace("<technicalAccount ", '<technicalAccount clientSecret="p8e-x" '),
            "clientSecret",
        ),
        (exported.text.replace('scopes="', 'scopes="no spaces,'), "scopes"),
        (exported.text.replace('clientId="shop-website-02"', 'clientId="x"'), "clientId"),
    ):
        answer = await stage.post("/api/v1/packages/import", content=bad, headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["field"] == field
    assert (await stage.get("/api/v1/technical-accounts", headers=admin)).json()["total"] == 0
    missing = await dev.get(
        "/api/v1/packages/export",
        params={"technical_account": "nobody-here"},
        headers=await admin_headers(dev),
    )
    assert missing.status_code == 404
