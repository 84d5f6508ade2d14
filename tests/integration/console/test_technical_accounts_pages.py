"""The technical accounts page (admin only): add, rotate secrets, change profiles, delete."""

from __future__ import annotations

import re
from typing import Any

from tests.integration.console.conftest import Browser
from tests.integration.console.ops_support import console_as
from tests.support.ims import exchange


async def _accounts(browser: Browser) -> dict[str, dict[str, Any]]:
    headers = await browser.cell.login()
    listed = await browser.client.get("/api/v1/technical-accounts", headers=headers)
    return {item["client_id"]: item for item in listed.json()["items"]}


def _revealed(html: str) -> str:
    found = re.search(r'id="revealed-secret-value">([^<]+)<', html)
    assert found, "the new secret is shown once"
    return found.group(1)


async def test_adding_an_account_shows_its_secret_once_and_it_works(browser: Browser) -> None:
    page = await browser.get("/technical-accounts")
    assert page.status_code == 200
    assert '<a href="/technical-accounts" aria-current="page">' in page.text
    assert "/ims/token/v3" in page.text and "campaign - mcsim - messagecenter" in page.text
    added = await browser.hx(
        "POST", "/technical-accounts", data={"name": "Shop", "client_id": "shop-console-01"}
    )
    assert added.status_code == 200, added.text
    secret = _revealed(added.text)
    assert 'data-client-id="shop-console-01"' in added.text
    token = await exchange(browser.client, "shop-console-01", secret)
    assert token.status_code == 200, token.text
    listed = await browser.get("/technical-accounts")
    assert secret not in listed.text  # never again
    # A plain form (no scripts) gets the page itself, with the secret, not a redirect.
    plain = await browser.post("/technical-accounts", {"name": "No scripts"})
    assert plain.status_code == 200
    assert _revealed(plain.text).startswith("p8e-")


async def test_rotation_profiles_and_deletion_reach_the_api(browser: Browser) -> None:
    await browser.hx(
        "POST", "/technical-accounts", data={"name": "Crm", "client_id": "crm-console"}
    )
    account = (await _accounts(browser))["crm-console"]
    rotated = await browser.hx("POST", f"/technical-accounts/{account['id']}/secrets")
    new_secret = _revealed(rotated.text)
    old = account["client_secrets"][0]["uuid"]
    deleted = await browser.hx("POST", f"/technical-accounts/{account['id']}/secrets/{old}/delete")
    assert deleted.status_code == 200 and "Client secret deleted" in deleted.text
    (kept,) = (await _accounts(browser))["crm-console"]["client_secrets"]
    assert kept["uuid"] != old
    last = await browser.hx(
        "POST", f"/technical-accounts/{account['id']}/secrets/{kept['uuid']}/delete"
    )
    assert last.status_code == 409
    assert (await exchange(browser.client, "crm-console", new_secret)).status_code == 200
    changed = await browser.hx(
        "POST",
        f"/technical-accounts/{account['id']}",
        data={"scopes": "openid,AdobeID,session", "product_profiles": "campaign - x - marketing"},
    )
    assert changed.status_code == 200
    assert "no Message Center access" in changed.text
    assert (await _accounts(browser))["crm-console"]["product_profiles"] == [
        "campaign - x - marketing"
    ]
    bad = await browser.hx(
        "POST", f"/technical-accounts/{account['id']}", data={"scopes": "has space"}
    )
    assert bad.status_code == 400
    gone = await browser.hx("POST", f"/technical-accounts/{account['id']}/delete")
    assert gone.status_code == 200 and "Crm deleted" in gone.text
    assert "crm-console" not in await _accounts(browser)


async def test_only_admins_see_the_page(browser: Browser) -> None:
    async with console_as(browser, "editor") as editor:
        page = await editor.get("/technical-accounts")
        assert page.status_code == 403
        home = await editor.get("/")
        assert 'href="/technical-accounts"' not in home.text
