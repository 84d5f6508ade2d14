"""The mailbox in Debian's Chromium: a new message appears without a reload, tabs switch in
place and by keyboard, the HTML frame shows the email but runs none of its script, and the
pages raise no error of their own."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from midsourcing.app import create_app
from tests.browser import conftest as browser_fixtures
from tests.integration.midsourcing.conftest import mid_settings
from tests.integration.midsourcing.support import ROUTER, append_envelope, email, part, push, sms
from tests.support.live import live_server

pytestmark = pytest.mark.browser


playwright = browser_fixtures.playwright
chromium = browser_fixtures.chromium
page = browser_fixtures.page

HOSTILE_HTML = (
    "<h1>Hello Ann</h1><p id='p'>Your code</p>"
    "<script>document.body.innerHTML = 'pwned'</script>"
    "<img src=x onerror=\"document.body.innerHTML = 'pwned'\">"
)


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    """A mid-sourcing server on a loopback port (capture mode)."""
    with live_server(create_app(mid_settings(tmp_path))) as url:
        yield url


def _send(base: str, *messages: object) -> None:
    body = append_envelope(part(*messages)).encode()  # type: ignore[arg-type]
    answer = httpx.post(base + ROUTER, content=body, headers={"content-type": "text/xml"})
    assert answer.status_code == 200, answer.text


def _watch(page: Page) -> list[str]:
    """Collect the URLs the page failed to load (only the favicon may be missing)."""
    failed: list[str] = []
    page.on(
        "response", lambda response: failed.append(response.url) if response.status >= 400 else None
    )
    return failed


def _own_errors(page: Page, failed: list[str]) -> list[str]:
    """Return the console errors, leaving out the frame's blocked script (which is the point)."""
    assert all(url.endswith("/favicon.ico") for url in failed), failed
    errors: list[str] = page.console_errors  # type: ignore[attr-defined]
    ignored = ("because the document's frame is sandboxed", "Failed to load resource")
    return [e for e in errors if not any(words in e for words in ignored)]


def test_a_new_message_appears_and_opens_in_tabs(base: str, page: Page) -> None:
    failed = _watch(page)
    _send(base, email("ann@example.com", subject="Reset your password", html=HOSTILE_HTML))
    page.goto(base + "/")
    expect(page.get_by_role("link", name="Reset your password")).to_be_visible()
    assert page.get_by_text("No message captured yet.").count() == 0

    _send(base, email("bob@example.com", subject="Arrived while looking"))
    expect(page.get_by_role("link", name="Arrived while looking")).to_be_visible(timeout=10_000)
    links = page.locator("a.message-link")
    expect(links).to_have_count(2)
    assert links.first.inner_text() == "Arrived while looking"  # newest first

    page.goto(base + "/?q=ann@example.com")
    expect(links).to_have_count(1)
    links.first.click()
    expect(page.get_by_role("tab", name="HTML")).to_have_attribute("aria-selected", "true")
    frame = page.frame_locator("#message-html")
    expect(frame.locator("h1")).to_have_text("Hello Ann")
    expect(frame.locator("#p")).to_have_text("Your code")
    assert "pwned" not in frame.locator("body").inner_text()

    page.get_by_role("tab", name="Text").click()
    expect(page.locator("#message-text")).to_be_visible()
    expect(page.locator("#message-html")).to_be_hidden()
    assert re.search(r"/messages/\d+\?tab=text$", page.url)
    page.get_by_role("tab", name="Text").press("ArrowRight")
    expect(page.get_by_role("tab", name="Headers")).to_be_focused()
    expect(page.locator("#message-headers")).to_be_visible()
    page.keyboard.press("End")
    expect(page.locator("#message-raw")).to_be_visible()
    expect(page.locator("#message-raw")).to_contain_text("Subject: Reset your password")
    assert _own_errors(page, failed) == []


def test_sms_push_and_actions_by_keyboard(base: str, page: Page) -> None:
    _send(
        base,
        sms("+447700900123", text="Your code is 1234"),
        push("f00d", channel="android", title="Shipped", data='{"orderId": "42"}'),
        email("cid+hard@example.com", subject="Bounced"),
    )
    failed = _watch(page)
    page.goto(base + "/?channel=sms")
    page.locator("a.message-link").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#message-sms .bubble")).to_have_text("Your code is 1234")

    page.goto(base + "/?channel=push")
    page.locator("a.message-link").first.click()
    expect(page.locator("#push-title")).to_have_text("Shipped")
    expect(page.locator("#push-data")).to_contain_text('"orderId": "42"')

    page.goto(base + "/quarantine")
    expect(page.locator("tr.address-row")).to_have_count(1)
    page.get_by_text("Release…").first.click()
    page.get_by_role("button", name="Release cid+hard@example.com").click()
    expect(page.locator("#flash")).to_contain_text("Released 1 address")
    assert httpx.get(base + "/api/v1/quarantine").json()["total"] == 0

    page.goto(base + "/chaos")
    page.locator("#chaos-email").get_by_label("Failure probability (0 to 1)").fill("0.5")
    page.locator("#chaos-email").get_by_label("Latency per try (ms)").fill("20")
    page.get_by_role("button", name="Save email chaos").click()
    expect(page.locator("#flash")).to_contain_text("The email chaos is saved.")
    email_chaos = httpx.get(base + "/api/v1/chaos").json()["channels"]["email"]
    assert (email_chaos["probability"], email_chaos["latencyMs"]) == (0.5, 20)

    page.goto(base + "/")
    page.get_by_text("Delete all…").click()
    page.locator("#delete-all-confirm").click()
    expect(page.locator("#flash")).to_contain_text("Deleted 3 messages.")
    expect(page.get_by_text("No message captured yet.")).to_be_visible()
    assert _own_errors(page, failed) == []


def test_the_list_follows_the_server_stream_without_polling(base: str, page: Page) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(base + "/")
    expect(page.get_by_text("No message captured yet.")).to_be_visible()
    page.wait_for_timeout(3_000)  # idle: the old list polled every 2 s
    reloads = [url for url in requests if "/?" in url and "/stream" not in url]
    assert reloads == []
    assert any(url.endswith("/api/v1/messages/stream") for url in requests)
    _send(base, email("ann@example.com", subject="Streamed"))
    expect(page.get_by_role("link", name="Streamed")).to_be_visible(timeout=5_000)
