"""Logging in to the console, sessions, CSRF, redirects and the pages' security headers."""

from __future__ import annotations

import httpx

from tests.integration.console.conftest import HTML, Browser, open_browser


async def test_pages_need_a_session_and_send_the_browser_to_login(browser: Browser) -> None:
    browser.client.cookies.clear()
    answer = await browser.client.get("/?tab=recent", headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2F%3Ftab%3Drecent"
    htmx = await browser.client.get("/", headers={"HX-Request": "true", **HTML})
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"] == "/login"


async def test_login_page_is_served_with_a_strict_policy(browser: Browser) -> None:
    answer = await browser.client.get("/login?next=/events", headers=HTML)
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert answer.headers["x-frame-options"] == "DENY"
    assert 'name="next" value="/events"' in answer.text
    assert "/static/vendor/htmx-2.0.11.min.js" in answer.text
    asset = await browser.client.get("/static/vendor/htmx-2.0.11.min.js")
    assert asset.status_code == 200 and "htmx" in asset.text


async def test_wrong_password_shows_the_form_again_and_sets_no_cookie(browser: Browser) -> None:
    browser.client.cookies.clear()
    answer = await browser.client.post(
        "/login", data={"login": "admin", "password": "nope", "next": "/"}, headers=HTML
    )
    assert answer.status_code == 401
    assert "alert error" in answer.text and 'value="admin"' in answer.text
    assert "mcsim_session" not in browser.client.cookies


async def test_login_redirects_only_within_the_site(browser: Browser) -> None:
    client = browser.client
    for target, expected in (
        ("/events?status=sent", "/events?status=sent"),
        ("//evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil", "/"),
    ):
        client.cookies.clear()
        answer = await client.post(
            "/login", data={"login": "admin", "password": "admin", "next": target}, headers=HTML
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == expected


async def test_login_posted_from_another_site_is_refused(browser: Browser) -> None:
    browser.client.cookies.clear()
    answer = await browser.client.post(
        "/login",
        data={"login": "admin", "password": "admin"},
        headers={"origin": "https://evil.example", **HTML},
    )
    assert answer.status_code == 403
    assert "mcsim_session" not in browser.client.cookies


async def test_dashboard_shows_the_environment_and_the_operator(browser: Browser) -> None:
    answer = await browser.get("/")
    assert answer.status_code == 200
    assert 'class="env env-development"' in answer.text
    assert "admin" in answer.text and 'aria-current="page"' in answer.text
    assert f'"X-CSRF-Token": "{browser.csrf}"' in answer.text


async def test_changes_without_the_csrf_token_are_refused(browser: Browser) -> None:
    answer = await browser.client.post("/logout", headers=HTML)
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    # still logged in
    assert (await browser.get("/")).status_code == 200


async def test_logout_ends_the_session(browser: Browser) -> None:
    session = browser.client.cookies["mcsim_session"]
    answer = await browser.post("/logout")
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    browser.client.cookies.set("mcsim_session", session)
    again = await browser.get("/")
    assert again.status_code == 303


async def test_unknown_pages_and_api_paths_answer_in_their_own_form(browser: Browser) -> None:
    page = await browser.get("/no-such-page")
    assert page.status_code == 404 and "<html" in page.text
    api = await browser.client.get("/api/v1/no-such-thing", headers=HTML)
    assert api.status_code == 404 and api.json()["error"] == "not_found"


async def test_a_session_opened_through_the_api_works_in_the_console(browser: Browser) -> None:
    client: httpx.AsyncClient = browser.client
    client.cookies.clear()
    answer = await client.post("/api/v1/auth/session", json={"login": "admin", "password": "admin"})
    assert answer.status_code == 200
    assert (await client.get("/", headers=HTML)).status_code == 200
    again = await open_browser(browser.cell)
    assert (await again.get("/")).status_code == 200
