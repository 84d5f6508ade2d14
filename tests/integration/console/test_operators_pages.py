"""The operators page (admin only): add, change role, disable, reset password, delete."""

from __future__ import annotations

from typing import Any

from tests.integration.console.conftest import HTML, Browser, open_browser
from tests.integration.console.ops_support import console_as


async def _operators(browser: Browser) -> dict[str, dict[str, Any]]:
    headers = await browser.cell.login()
    listed = await browser.client.get("/api/v1/operators", headers=headers)
    return {item["login"]: item for item in listed.json()["items"]}


async def _add(browser: Browser, login: str, role: str = "viewer") -> int:
    answer = await browser.hx(
        "POST",
        "/operators",
        data={"login": login, "name": login.title(), "role": role, "password": "long-enough"},
    )
    assert answer.status_code == 200, answer.text
    assert f"Operator {login} added as {role}" in answer.text
    return int((await _operators(browser))[login]["id"])


async def test_the_page_lists_operators_with_their_controls(browser: Browser) -> None:
    answer = await browser.get("/operators")
    assert answer.status_code == 200
    assert 'data-login="admin"' in answer.text and 'id="operator-create"' in answer.text
    assert '<a href="/operators" aria-current="page">' in answer.text
    assert ' id="operator-login" ' in answer.text


async def test_adding_an_operator_lets_it_log_in_with_its_role(browser: Browser) -> None:
    await _add(browser, "ed", "editor")
    assert (await _operators(browser))["ed"]["role"] == "editor"
    refused = await browser.hx(
        "POST", "/operators", data={"login": "x y", "role": "boss", "password": "short"}
    )
    assert refused.status_code == 400
    assert "login" in refused.text and "role" in refused.text and "password" in refused.text
    assert "x y" not in await _operators(browser)


async def test_role_change_disable_enable_and_delete_reach_the_api(browser: Browser) -> None:
    operator_id = await _add(browser, "carol")
    promoted = await browser.hx("POST", f"/operators/{operator_id}/role", data={"role": "admin"})
    assert promoted.status_code == 200 and "carol is now admin" in promoted.text
    assert (await _operators(browser))["carol"]["role"] == "admin"
    disabled = await browser.hx("POST", f"/operators/{operator_id}/disable")
    assert disabled.status_code == 200
    assert (await _operators(browser))["carol"]["disabled"] is True
    await browser.post(f"/operators/{operator_id}/enable")
    assert (await _operators(browser))["carol"]["disabled"] is False
    deleted = await browser.hx("POST", f"/operators/{operator_id}/delete")
    assert deleted.status_code == 200 and "carol deleted" in deleted.text
    assert "carol" not in await _operators(browser)


async def test_reset_password_ends_the_old_one(browser: Browser) -> None:
    operator_id = await _add(browser, "dave")
    reset = await browser.hx(
        "POST", f"/operators/{operator_id}/password", data={"password": "brand-new-pass"}
    )
    assert reset.status_code == 200 and "password is reset" in reset.text
    client = browser.client
    old = await client.post("/api/v1/auth/login", json={"login": "dave", "password": "long-enough"})
    assert old.status_code == 401
    new = await client.post(
        "/api/v1/auth/login", json={"login": "dave", "password": "brand-new-pass"}
    )
    assert new.status_code == 200


async def test_the_last_admin_and_oneself_are_kept(browser: Browser) -> None:
    admin_id = (await _operators(browser))["admin"]["id"]
    demote = await browser.hx("POST", f"/operators/{admin_id}/role", data={"role": "viewer"})
    assert demote.status_code == 409 and "last enabled admin" in demote.text
    delete = await browser.hx("POST", f"/operators/{admin_id}/delete")
    assert delete.status_code == 409
    assert (await _operators(browser))["admin"]["role"] == "admin"


async def test_changes_need_the_csrf_token(browser: Browser) -> None:
    answer = await browser.client.post(
        "/operators",
        data={"login": "mallory", "role": "admin", "password": "long-enough"},
        headers=HTML,
    )
    assert answer.status_code == 403
    assert "mallory" not in await _operators(browser)


async def test_only_admins_reach_the_page(browser: Browser) -> None:
    for role in ("viewer", "editor"):
        async with console_as(browser, role) as other:
            page = await other.get("/operators")
            assert page.status_code == 403 and "admin role" in page.text
            assert 'href="/operators"' not in (await other.get("/")).text
            created = await other.hx(
                "POST", "/operators", data={"login": "sneak", "role": "admin", "password": "x" * 9}
            )
            assert created.status_code == 403
    assert "sneak" not in await _operators(browser)
    again = await open_browser(browser.cell)
    assert (await again.get("/operators")).status_code == 200
