"""The console and the mailbox as a new user meets them (issue 18), on the real stack with the
demo workspace and some traffic: an email, an SMS, a proof and a message that failed after
every try.

Each test names the defect of issue 18 it guards.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.stack import StackRunner, running_stack

pytestmark = [pytest.mark.browser, pytest.mark.system]

TOKEN = {"authorization": "Bearer mcsim-dev-token"}
RESET = "/acme/campaign/mcacme/EVTPASSWORD_RESET"
CTX = {"firstName": "Ann", "resetUrl": "https://shop.acme.test/reset?token=t-1"}


@dataclass(frozen=True)
class Traffic:
    """The events pushed once for the module, by what they show."""

    sent: int
    failed: int
    sms: int
    push: int


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRunner]:
    """The whole stack with the demo workspace; retries of a soft bounce come quickly."""
    data = tmp_path_factory.mktemp("issue18") / "data"
    env = {
        "MCSIM_CONTROL_ARCHIVE_INTERVAL_SECONDS": "0.5",
        "MCSIM_MID_RETRY_SECONDS": "0.05",
        "MCSIM_MID_RETRY_MAX_SECONDS": "0.2",
    }
    with running_stack(data, instances=1, env=env) as running:
        yield running


def _pl_id(api: httpx.Client, body: dict[str, object]) -> int:
    answer = api.post(RESET, json={"ctx": CTX, **body}, headers=TOKEN)
    assert answer.status_code == 201, answer.text
    pkey = answer.json()["PKey"]
    status = api.get(f"{RESET}/{pkey}", params={"wait": 20, "until": "processed"}, headers=TOKEN)
    assert status.status_code == 200, status.text
    return int(pkey)


@pytest.fixture(scope="module")
def traffic(stack: StackRunner) -> Traffic:
    """An email sent, an email failed after 5 tries (mailbox full), an SMS; and a proof."""
    with httpx.Client(base_url=stack.lb_url, timeout=30) as api:
        sent = _pl_id(api, {"email": "ann@example.com"})
        failed = _pl_id(api, {"email": "bob+soft@example.com"})
        sms = _pl_id(api, {"mobilePhone": "+447700900123"})
        _pl_id(api, {"email": "carl+hard@example.com"})
        _pl_id(api, {"email": "dorothea.featherstonehaugh-cholmondeley+receipts@mail.example.org"})
        order = {"firstName": "Ann", "orderId": "A-1042", "total": "59.97"}
        answer = api.post(
            "/acme/campaign/mcacme/EVTORDER_CONFIRMATION",
            json={
                "wishedChannel": 41,
                "deviceToken": "demo-ios-device-token-0002",
                "mobileApp": {"uuid": "com.acme.shop"},
                "ctx": order,
            },
            headers=TOKEN,
        )
        assert answer.status_code == 201, answer.text
        push = int(answer.json()["PKey"])
    with httpx.Client(base_url=stack.control_url, timeout=30) as control:
        token = control.post("/api/v1/auth/login", json={"login": "admin", "password": "admin"})
        control.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        templates = control.get("/api/v1/templates", params={"limit": 50}).json()["items"]
        email = next(t for t in templates if t["name"] == "PASSWORD_RESET_email")
        proof = control.post(f"/api/v1/templates/{email['id']}/proof", json={})
        assert proof.status_code == 200, proof.text
    return Traffic(sent=sent, failed=failed, sms=sms, push=push)


def _log_in(page: Page, stack: StackRunner, path: str = "/") -> None:
    page.goto(stack.control_url + "/login?next=" + path)
    page.get_by_label("Login").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(stack.control_url + path)


def _event_page(page: Page, stack: StackRunner, pl_id: int, status: str) -> None:
    """Open the event's page once it is archived with its final status."""
    deadline = time.monotonic() + 45
    while True:
        page.goto(f"{stack.control_url}/events/{pl_id}")
        badge = page.locator("#event-status")
        if badge.count() and badge.inner_text().strip() == status:
            return
        assert time.monotonic() < deadline, f"event {pl_id} never showed as {status}"
        time.sleep(0.5)


def test_a_failed_event_shows_its_tries_and_its_reason_in_words(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18: the event page of a message that failed after 5 tries said "Errors 0" and gave
    the reason as a bare code ("5 452 4.2.2…")."""
    _log_in(page, stack)
    _event_page(page, stack, traffic.failed, "Delivery failed")
    expect(page.locator("#event-tries")).to_contain_text("5 tries")
    expect(page.locator("#event-failure-label")).to_have_text("Mailbox full")
    expect(page.locator("#event-failure")).to_contain_text("reason 5")
    expect(page.get_by_role("row", name=re.compile(r"^Errors"))).to_have_count(0)
    assert not page.console_errors  # type: ignore[attr-defined]


def test_an_event_and_its_message_link_to_each_other(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18: the event page's mailbox button opened a search, not the message, and the
    message page did not link back to the event; nor did the two apps link to each other."""
    _log_in(page, stack)
    _event_page(page, stack, traffic.sent, "Sent")
    page.locator("#event-message-link").click()
    expect(page).to_have_url(re.compile(re.escape(stack.mid_url) + r"/messages/\d+$"))
    expect(page.locator("#message-to")).to_contain_text("ann@example.com")
    template = page.locator("#message-template-link").get_attribute("href")
    assert template == f"{stack.control_url}/templates?event_type=PASSWORD_RESET&channel=email"
    page.locator("#message-event-link").click()
    expect(page).to_have_url(f"{stack.control_url}/events/{traffic.sent}")
    expect(page.locator("#event-status")).to_have_text("Sent")
    page.locator("#to-mailbox").click()
    expect(page).to_have_url(stack.mid_url + "/")
    page.locator("#to-console").click()
    expect(page).to_have_url(stack.control_url + "/")
    assert not page.console_errors  # type: ignore[attr-defined]


def test_an_sms_is_titled_by_its_recipient_and_a_proof_has_no_event_id(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18: an SMS was titled "(no subject)"; a proof showed event id 0."""
    page.goto(f"{stack.mid_url}/?q={traffic.sms}")
    page.locator("a.message-link").first.click()
    expect(page.locator("#message-subject")).to_have_text("SMS to +447700900123")
    assert "(no subject)" not in page.title()

    page.goto(f"{stack.mid_url}/?proof=yes")
    expect(page.locator("#messages")).not_to_contain_text(re.compile(r"^0$"))
    page.locator("a.message-link").first.click()
    expect(page.locator("#message-event-id")).to_contain_text("a proof")
    expect(page.locator("#message-event-id")).not_to_have_text("0")


def _marked(page: Page, selector: str, words: str) -> None:
    """Assert that the field is marked invalid and described by ``words`` next to it."""
    control = page.locator(selector)
    expect(control).to_have_attribute("aria-invalid", "true")
    described = control.get_attribute("aria-describedby")
    assert described, selector
    note = page.locator("#" + next(i for i in described.split() if i.endswith("-error")))
    expect(note).to_contain_text(words)
    # next to the field: in the same labelled field as the control
    same = "(n, c) => n.closest('.field') === c.closest('.field')"
    assert note.evaluate(same, control.element_handle())


def test_a_wrong_search_keeps_what_was_typed_and_says_why_next_to_the_field(
    page: Page, stack: StackRunner
) -> None:
    """Issue 18: the event search by plId and the report dates emptied the field on error,
    and said why in validator words at the top of the page."""
    _log_in(page, stack, "/events")
    page.locator("#filter-plid").fill("7205x")
    page.locator("#events-search").click()
    expect(page.locator("#filter-plid")).to_have_value("7205x")
    _marked(page, "#filter-plid", "Enter the event id in digits")
    assert _axe(page) == []

    page.goto(stack.control_url + "/reports")
    page.locator("#report-since").fill("2026-03-01T10:00")
    page.locator("#report-until").fill("2026-02-01T10:00")
    page.locator("#reports-apply").click()
    expect(page.locator("#report-since")).to_have_value("2026-03-01T10:00")
    expect(page.locator("#report-until")).to_have_value("2026-02-01T10:00")
    _marked(page, "#report-since", "Choose a start before the end")
    assert _axe(page) == []


def test_a_refused_form_explains_the_field_in_plain_words(page: Page, stack: StackRunner) -> None:
    """Issue 18: errors were raw validator text ("String should match pattern …") at the top."""
    _log_in(page, stack, "/instances")
    page.locator("#instance-name").fill("exec9")
    page.locator("#instance-url").fill("ftp://exec9.example")
    page.locator("#instance-password").fill("secret")
    page.locator("#instance-create").click()
    _marked(page, "#instance-url", "starting with http:// or https://")
    expect(page.locator("#instance-url")).to_have_value("ftp://exec9.example")
    expect(page.locator("#instance-url")).to_be_focused()
    expect(page.locator("body")).not_to_contain_text("should match pattern")
    assert _axe(page) == []
    # corrected, it goes through and the marks go
    page.locator("#instance-url").fill("http://127.0.0.1:9")
    page.locator("#instance-create").click()
    expect(page.locator("#instances-table")).to_contain_text("exec9")
    expect(page.locator(".field-error")).to_have_count(0)


def test_a_wrong_chaos_value_keeps_the_form_and_the_page(page: Page, stack: StackRunner) -> None:
    """Issue 18: the chaos form emptied the probability on error, and left the browser on a
    page (POST /chaos/email) that answered 405 when opened again."""
    page.goto(stack.mid_url + "/chaos")
    form = page.locator("#chaos-email form").first
    form.evaluate("f => { f.noValidate = true; }")  # as a browser without constraint checks
    page.locator("#chaos-email-probability").fill("2")
    form.locator("button[type=submit]").click()
    expect(page.locator("#chaos-email-probability")).to_have_value("2")
    _marked(page, "#chaos-email-probability", "Enter a share from 0 to 1")
    assert _axe(page) == []
    page.goto(page.url)  # the address bar's page, opened again
    expect(page).to_have_url(re.compile(re.escape(stack.mid_url) + r"/chaos(#chaos-email)?$"))
    expect(page.locator("main h1")).to_have_text("Chaos")
    with httpx.Client(base_url=stack.mid_url) as mid:
        assert mid.get("/api/v1/chaos").json()["channels"] == {}


def test_the_console_error_page_keeps_the_navigation(page: Page, stack: StackRunner) -> None:
    """Issue 18: the console's error page dropped the navigation."""
    _log_in(page, stack)
    for path in ("/events/12345", "/no-such-page"):
        answer = page.goto(stack.control_url + path)
        assert answer is not None and answer.status == 404
        expect(page.locator("nav.side a[href='/events']")).to_be_visible()
        expect(page.locator("header .account")).to_contain_text("admin")


def _console_pages(stack: StackRunner, traffic: Traffic) -> list[str]:
    """Every page of the console, those of each kind of template and event included."""
    with httpx.Client(base_url=stack.control_url, timeout=30) as control:
        token = control.post("/api/v1/auth/login", json={"login": "admin", "password": "admin"})
        control.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        templates = control.get("/api/v1/templates", params={"limit": 50}).json()["items"]
        accounts = control.get("/api/v1/execution-instances").json()
    accounts = accounts["items"] if isinstance(accounts, dict) else accounts
    return [
        "/",
        "/event-types",
        "/templates",
        "/templates?channel=email",
        "/templates/new",
        *(f"/templates/{t['id']}" for t in templates),
        "/instances",
        *(f"/instances/{a['id']}" for a in accounts),
        "/monitoring",
        "/events",
        "/events?plId=1x",
        *(f"/events/{pl_id}" for pl_id in (traffic.sent, traffic.failed, traffic.sms)),
        "/reports",
        "/reports?interval=hour",
        "/operators",
        "/technical-accounts",
        "/packages",
    ]


def _mailbox_pages(stack: StackRunner) -> list[str]:
    """Every page of the mailbox: the list, a message of each kind in each tab, and the rest."""
    with httpx.Client(base_url=stack.mid_url, timeout=30) as mid:
        messages = mid.get("/api/v1/messages", params={"limit": 100}).json()["messages"]
    seen: dict[tuple[str, bool, str], int] = {}
    for message in messages:
        seen.setdefault((message["channel"], message["proof"], message["status"]), message["id"])
    tabs = {
        "email": ("html", "source", "links", "compatibility", "text", "headers", "raw"),
        "sms": ("sms", "raw"),
    }
    pages = ["/", "/?proof=yes", "/?status=failed&channel=email", "/?q=nothing-matches-this"]
    pages += ["/quarantine", "/chaos"]
    for (channel, _, _), pk in seen.items():
        for tab in tabs.get(channel, ("push", "raw")):
            pages.append(f"/messages/{pk}?tab={tab}")
    return pages


def _overflow(page: Page) -> int:
    return int(
        page.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
    )


#: axe-core (vendored, served by every service under /static: the pages' policy allows only
#: scripts of their own origin), run on the page: its serious and critical violations.
_AXE = "/static/vendor/axe-core/axe.min.js"
_AXE_RUN = """async () => {
  const found = await axe.run(document, {resultTypes: ['violations']});
  return found.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
}"""


def _axe(page: Page) -> list[str]:
    """Return the page's serious and critical accessibility violations, as axe-core finds them."""
    page.add_script_tag(url=_AXE)
    return list(page.evaluate(_AXE_RUN))


#: The scrolling table frames whose table is wider than the frame (columns hidden off to the side).
_HIDDEN_COLUMNS = """() => Array.from(document.querySelectorAll('.table-wrap'))
  .filter(w => w.scrollWidth > w.clientWidth + 1)
  .map(w => (w.querySelector('table') || w).id || 'a table')"""


@pytest.mark.parametrize(
    ("size", "scheme"),
    [((1366, 900), "light"), ((390, 844), "light"), ((1366, 900), "dark")],
    ids=["laptop", "phone", "laptop-dark"],
)
def test_every_page_fits_the_screen_and_passes_axe_without_errors(
    page: Page, stack: StackRunner, traffic: Traffic, size: tuple[int, int], scheme: str
) -> None:
    """Issue 18: lists overflowed a laptop screen (the mailbox table 1,411 px in a 1,124 px
    frame, the event history 1,227 px), and on a phone the mailbox showed only the subject;
    contrasts (the header's role, the SMS preview, the badges) and labels failed WCAG AA. In
    dark mode too."""
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    too_wide: list[str] = []
    inaccessible: list[str] = []
    _log_in(page, stack)
    pages = [(stack.control_url, path) for path in _console_pages(stack, traffic)]
    pages += [(stack.mid_url, path) for path in _mailbox_pages(stack)]
    missing = [(stack.control_url, "/events/12345"), (stack.mid_url, "/messages/999999")]
    for base, path in pages + missing:
        page.goto(base + path)
        expect(page.locator("main h1").first).to_be_visible()
        if (overflow := _overflow(page)) > 0:
            too_wide.append(f"{base}{path}: {overflow}px")
        # on a laptop no list hides its columns in a scrolling frame either
        if width >= 1280 and (hidden := page.evaluate(_HIDDEN_COLUMNS)):
            too_wide.append(f"{base}{path}: {hidden} scroll sideways")
        inaccessible += [f"{base}{path}: {violation}" for violation in _axe(page)]
    page.context.clear_cookies()
    page.goto(stack.control_url + "/login")
    if (overflow := _overflow(page)) > 0:
        too_wide.append(f"console /login: {overflow}px")
    inaccessible += [f"console /login: {violation}" for violation in _axe(page)]
    assert too_wide + inaccessible == [], "\n".join(too_wide + inaccessible)
    errors: list[str] = page.console_errors  # type: ignore[attr-defined]
    # the error pages asked for on purpose answer 404 (and Chromium logs it)
    expected = [f"HTTP 404 {base}{path}" for base, path in missing]
    assert [e for e in errors if e not in expected and "status of 404" not in e] == []
    assert len([e for e in errors if "status of 404" in e]) <= len(missing)


def test_the_mailbox_keeps_what_matters_on_a_phone(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18: on a 390 px phone the mailbox showed only the subject, and a message its
    envelope (a whole screen of it) before its body."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(stack.mid_url + "/")
    row = page.locator("#messages .message-row").first
    for part in (".subject", ".recipient", ".status", ".accepted"):
        cell = row.locator(part)
        expect(cell).to_be_visible()
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, part
    # the event history too, its filters beyond the first three folded away
    _log_in(page, stack)
    _event_page(page, stack, traffic.sent, "Sent")  # archived by now
    page.goto(stack.control_url + "/events")
    expect(page.locator("#filter-since")).to_be_hidden()
    row = page.locator(f"#event-{traffic.sent}")
    for part in (".id", ".recipient", ".status", ".received"):
        box = row.locator(part).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, part
    # a message: its body first, who it went to and its status above it, the facts after it
    page.goto(f"{stack.mid_url}/?q={traffic.sent}")
    page.locator("a.message-link").first.click()
    expect(page.locator("#message-summary")).to_contain_text("To ann@example.com")
    body = page.locator("#message-html").bounding_box()
    facts = page.locator("#message-from").bounding_box()
    assert body is not None and facts is not None and body["y"] < facts["y"]
    assert body["y"] < 844, "the body starts on the first screen"


#: WCAG's contrast ratio of two CSS colours (rgb or rgba, as getComputedStyle writes them).
_CONTRAST = """([a, b]) => {
  const lum = css => css.match(/[\\d.]+/g).slice(0, 3).map(Number).map(c => c / 255)
    .map(c => c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4))
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


def _contrast(page: Page, one: str, other: str) -> float:
    return float(page.evaluate(_CONTRAST, [one, other]))


def _style(page: Page, selector: str, prop: str) -> str:
    return str(page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}"))


def test_input_borders_and_focus_rings_stand_out(page: Page, stack: StackRunner) -> None:
    """Issue 18: input borders and focus rings failed WCAG's 3:1 non-text contrast (axe does
    not measure them): on the page, on a panel and on the dark header."""
    _log_in(page, stack, "/events")
    field = "#filter-email"
    page_bg = _style(page, "body", "backgroundColor")
    assert _contrast(page, _style(page, field, "borderTopColor"), page_bg) >= 3
    assert _contrast(page, _style(page, field, "borderTopColor"), "rgb(255, 255, 255)") >= 3
    page.locator(field).focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focused from the keyboard: :focus-visible
    assert _contrast(page, _style(page, field, "outlineColor"), page_bg) >= 3
    header_bg = _style(page, "header.top", "backgroundColor")
    page.locator("header.top a.brand").focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    expect(page.locator("header.top a.brand")).to_be_focused()
    assert _contrast(page, _style(page, "header.top a.brand", "outlineColor"), header_bg) >= 3
    page.goto(stack.mid_url + "/")
    assert _contrast(page, _style(page, "#search", "borderTopColor"), "rgb(255, 255, 255)") >= 3


def test_the_outcome_of_a_change_shows_where_it_was_made(page: Page, stack: StackRunner) -> None:
    """Issue 18: the outcome of an action (save, publish, a new event type) went to the top of
    the page, out of sight of the button lower down."""
    _log_in(page, stack, "/event-types")
    page.locator("#event-type-name").fill("FEEDBACK_SHOWN")
    page.locator("#event-type-create").click()
    expect(page.locator("#event-types .feedback")).to_contain_text("FEEDBACK_SHOWN created")
    expect(page.locator("#flash .alert")).to_have_count(0)

    page.goto(stack.control_url + "/templates?event_type=PASSWORD_RESET&channel=sms")
    page.get_by_role("link", name="PASSWORD_RESET_sms").click()
    page.locator("#template-save").click()
    expect(page.locator("#save-feedback")).to_have_text("Draft saved.")  # beside the button
    page.locator("#template-publish").click()
    expect(page.locator("#template-status .feedback")).to_contain_text("ublished")
    expect(page.locator("#flash .alert")).to_have_count(0)
    assert _axe(page) == []


def test_the_mailbox_search_words_and_sms_segments(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18 (the mailbox, Mailpit-grade): relative times; the search box reads to:,
    status:, is:proof…, a wrong word is explained under the box that keeps it; an SMS tells its
    encoding and segments."""
    page.goto(stack.mid_url + "/")
    accepted = page.locator("#messages .accepted time").first
    expect(accepted).to_have_text(re.compile(r"^(just now|\d+ min ago)$"))  # relative times
    expect(accepted).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d .* UTC$"))
    page.locator("#search").fill("to:bob status:failed")
    page.locator("#search").press("Enter")
    expect(page.locator("#messages .message-row")).to_have_count(1)
    expect(page.locator("#messages .recipient")).to_have_text("bob+soft@example.com")

    page.locator("#search").fill("is:proof")
    page.locator("#search").press("Enter")
    rows = page.locator("#messages .message-row")
    expect(rows.first).to_be_visible()
    assert all(row.locator(".badge.proof").count() == 1 for row in rows.all())

    page.locator("#search").fill("status:lost")
    page.locator("#search").press("Enter")
    expect(page.locator("#search")).to_have_value("status:lost")
    _marked(page, "#search", "status must be one of")
    assert _axe(page) == []

    page.goto(f"{stack.mid_url}/?q={traffic.sms}")
    page.locator("a.message-link").first.click()
    expect(page.locator("#sms-parts")).to_contain_text("GSM-7 · 1 segment")


def test_an_email_previews_at_three_widths_with_its_source_and_links(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18 (the mailbox, Mailpit-grade): desktop, tablet and phone preview widths, the
    HTML source highlighted, a link check."""
    page.goto(f"{stack.mid_url}/?q={traffic.sent}")
    page.locator("a.message-link").first.click()
    frame = page.locator("#message-html")
    for name, most in (("Phone", 375), ("Tablet", 768), ("Desktop", 2000)):
        button = page.get_by_role("button", name=name, exact=True)
        button.click()
        expect(button).to_have_attribute("aria-pressed", "true")
        box = frame.bounding_box()
        assert box is not None and box["width"] <= most, name
    assert (frame.bounding_box() or {"width": 0})["width"] > 768
    expect(page.frame_locator("#message-html").locator("body")).to_contain_text("Hello Ann")

    # its HTML source, highlighted, and its links checked (read, never followed)
    page.get_by_role("tab", name="Source").click()
    expect(page.locator("#message-source .hl-tag").first).to_have_text("<p")
    expect(page.locator("#message-source")).to_contain_text("Choose a new password")
    page.get_by_role("tab", name="Links").click()
    expect(page.locator("#links-summary")).to_contain_text("1 link, none to look at")
    expect(page.locator("#message-links")).to_contain_text("https://shop.acme.test/reset?token=t-1")


def test_the_dashboard_lists_the_latest_events(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18 (the console, Campaign-grade): a dashboard with recent events."""
    _log_in(page, stack)
    _event_page(page, stack, traffic.failed, "Delivery failed")  # archived by now
    page.goto(stack.control_url + "/")
    latest = page.locator("#dashboard-recent")
    expect(latest.locator(f"a[href='/events/{traffic.failed}']")).to_be_visible()
    expect(latest).to_contain_text("bob+soft@example.com")
    latest.locator(f"a[href='/events/{traffic.failed}']").click()
    expect(page.locator("#event-status")).to_have_text("Delivery failed")


def test_the_field_picker_inserts_at_the_cursor_and_the_preview_follows(
    page: Page, stack: StackRunner
) -> None:
    """Issue 18 item 6: a personalization-field picker built from the seeds' ctx."""
    _log_in(page, stack, "/templates")
    page.get_by_role("link", name="PASSWORD_RESET_email").click()
    subject = page.locator("#field-subject")
    subject.fill("Dear  today")
    subject.evaluate("field => field.setSelectionRange(5, 5)")  # between the two spaces
    page.locator("#field-picker summary").click()
    page.locator("#field-picker").get_by_role("button", name="rtEvent.ctx.firstName").click()
    expect(subject).to_have_value("Dear <%= rtEvent.ctx.firstName %> today")
    expect(page.locator("#preview-subject")).to_have_text("Dear Ann today")  # the seed's ctx
    assert _axe(page) == []


@contextmanager
def _control_api(stack: StackRunner) -> Iterator[httpx.Client]:
    """A client of the control API, logged in as admin."""
    with httpx.Client(base_url=stack.control_url, timeout=30) as control:
        token = control.post("/api/v1/auth/login", json={"login": "admin", "password": "admin"})
        control.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        yield control


def _published_template(
    stack: StackRunner, event_type: str, *, versions: int = 1, html: str = ""
) -> int:
    """Create an event type and its email template with a seed, published ``versions`` times."""
    with _control_api(stack) as control:
        assert control.post("/api/v1/event-types", json={"name": event_type}).status_code == 201
        content = {
            "from_address": "shop@example.com",
            "subject": "Hello <%= rtEvent.ctx.firstName %>",
            "html": html or "<p>Hello <%= rtEvent.ctx.firstName %></p>",
            "text": "Hello",
        }
        created = control.post(
            "/api/v1/templates",
            json={"event_type": event_type, "channel": "email", "content": content},
        )
        assert created.status_code == 201, created.text
        template_id = int(created.json()["id"])
        seed = {
            "label": "Zoe",
            "address": "zoe@example.com",
            "ctx": "<ctx><firstName>Zoe</firstName><order id='Z-1'/></ctx>",
        }
        added = control.post(f"/api/v1/templates/{template_id}/seeds", json=seed)
        assert added.status_code == 201, added.text
        for version in range(1, versions + 1):
            changed = {**content, "text": f"Hello, version {version}"}
            patched = control.patch(f"/api/v1/templates/{template_id}", json={"content": changed})
            assert patched.status_code == 200, patched.text
            published = control.post(f"/api/v1/templates/{template_id}/publish")
            assert published.status_code == 200, published.text
    return template_id


def test_the_field_picker_stays_after_a_save_and_a_rollback(page: Page, stack: StackRunner) -> None:
    """Issue 18 item 6: the field picker vanished once the editor was drawn again."""
    template_id = _published_template(stack, "PICKER_KEPT", versions=2)
    _log_in(page, stack, f"/templates/{template_id}")
    picker = page.locator("#field-picker")
    expect(picker).to_be_visible()
    page.locator("#template-save").click()
    expect(page.locator("#save-feedback")).to_have_text("Draft saved.")
    expect(picker).to_be_visible()

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Roll back to v1").click()
    # the outcome shows above the versions list, where the rollback was asked for, and stays
    # there once the list is drawn again with the new version
    rolled = page.locator("#template-versions #versions-feedback")
    expect(rolled).to_contain_text("Rolled back to version 1: published as version 3")
    expect(page.locator("#version-3")).to_be_visible()
    expect(rolled).to_contain_text("Rolled back to version 1")
    expect(page.locator("#template-status .feedback")).to_have_count(0)
    expect(page.locator("#field-text")).to_have_value("Hello, version 1")
    # the editor drawn again is a code editor again (line numbers of the rolled-back text)
    expect(page.locator(".code-editor").filter(has=page.locator("#field-text"))).to_have_count(1)
    expect(page.locator(".code-editor .code-gutter")).to_have_count(2)
    page.locator("#field-subject").fill("Order ")
    page.locator("#field-picker summary").click()
    picker.get_by_role("button", name="rtEvent.ctx.order.@id").click()
    expect(page.locator("#field-subject")).to_have_value("Order <%= rtEvent.ctx.order.@id %>")
    expect(page.locator("#preview-subject")).to_have_text("Order Z-1")

    # a new seed's ctx joins the picker, which alone is drawn again
    page.locator("#seed-add summary").click()
    page.locator("#seed-label").fill("Yan")
    page.locator("#seed-address").fill("yan@example.com")
    page.locator("#seed-ctx").fill("<ctx><coupon>C-1</coupon></ctx>")
    page.locator("#seed-add-button").click()
    expect(picker.locator("button", has_text="rtEvent.ctx.coupon")).to_be_attached()
    expect(page.locator("#field-picker")).to_have_count(1)
    expect(page.locator("#template-publish")).to_be_visible()
    expect(page.locator("#field-subject")).to_have_value("Order <%= rtEvent.ctx.order.@id %>")

    # another change of state shows its outcome in the status panel and clears the rollback's
    page.locator("#template-pause").click()
    expect(page.locator("#template-status .feedback")).to_contain_text("Paused")
    expect(rolled).to_be_empty()


def test_the_template_bodies_are_edited_with_line_numbers_and_highlighting(
    page: Page, stack: StackRunner
) -> None:
    """Issue 18 item 6: an editor with line numbers and <% %> highlighting (our own, no CDN);
    the form still sends the plain textarea's value."""
    template_id = _published_template(stack, "CODE_EDITOR")
    _log_in(page, stack, f"/templates/{template_id}")
    html = page.locator("#field-html")
    editor = page.locator(".code-editor").filter(has=html)
    expect(editor.locator(".code-gutter")).to_have_text("1")
    expect(editor.locator(".code-layer .hl-expr")).to_have_text("<%= rtEvent.ctx.firstName %>")
    expect(editor.locator(".code-layer .hl-tag").first).to_have_text("<p>")
    html.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n<% if (rtEvent.ctx.order) { %>\n<b>order</b>\n<% } %>")
    expect(html).to_be_focused()
    expect(editor.locator(".code-gutter")).to_have_text("1\n2\n3\n4")
    expect(editor.locator(".code-layer .hl-code")).to_have_text(
        ["<% if (rtEvent.ctx.order) { %>", "<% } %>"]
    )
    # the coloured copy lies exactly under the typed text: same lines, same place
    boxes = page.evaluate(
        """() => {
      const input = document.querySelector('#field-html');
      const layer = input.parentNode.querySelector('.code-layer');
      const a = input.getBoundingClientRect(), b = layer.getBoundingClientRect();
      const style = e => getComputedStyle(e);
      return [a.left - b.left, a.top - b.top, style(input).lineHeight === style(layer).lineHeight,
              style(input).paddingLeft === style(layer).paddingLeft, input.scrollHeight,
              layer.scrollHeight];
    }"""
    )
    assert boxes[:4] == [0, 0, True, True] and boxes[4] == boxes[5], boxes
    page.locator("#template-save").click()
    expect(page.locator("#save-feedback")).to_contain_text("Draft saved.")
    with _control_api(stack) as control:
        saved = control.get(f"/api/v1/templates/{template_id}").json()["content"]["html"]
    assert saved == (
        "<p>Hello <%= rtEvent.ctx.firstName %></p>\n"
        "<% if (rtEvent.ctx.order) { %>\n<b>order</b>\n<% } %>"
    )
    assert _axe(page) == []
    assert not page.console_errors  # type: ignore[attr-defined]


def test_the_mailbox_checks_an_email_against_common_mail_clients(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18 item 5: an HTML compatibility check of the email, next to its source and links."""
    html = (
        "<html><head><style>.box { display: flex }</style></head><body>"
        '<div class="box" style="position: absolute">Hi <%= rtEvent.ctx.firstName %></div>'
        '<svg width="8" height="8"></svg><style>p { color: var(--ink) }</style></body></html>'
    )
    template_id = _published_template(stack, "COMPAT_CHECK", html=html)
    with _control_api(stack) as control:
        assert control.post(f"/api/v1/templates/{template_id}/proof", json={}).status_code == 200
    page.goto(stack.mid_url + "/?q=type:COMPAT_CHECK")
    page.locator("a.message-link").first.click()
    page.get_by_role("tab", name="Compatibility").click()
    expect(page.locator("#compatibility-summary")).to_contain_text("5 features of this email")
    table = page.locator("#message-compatibility")
    for feature in ("CSS display: flex", "CSS position", "SVG", "<style> in the body"):
        expect(table.get_by_role("row", name=re.compile("^" + re.escape(feature)))).to_be_visible()
    flex = table.get_by_role("row", name=re.compile("^CSS display: flex"))
    expect(flex).to_contain_text("Outlook for Windows")
    expect(flex).to_contain_text("Lay out with tables")
    page.reload()  # the tab has its own address
    expect(page.locator("#message-compatibility")).to_be_visible()
    assert _axe(page) == []
    page.set_viewport_size({"width": 1366, "height": 900})
    assert _overflow(page) == 0 and page.evaluate(_HIDDEN_COLUMNS) == []
    page.set_viewport_size({"width": 390, "height": 844})
    assert _overflow(page) == 0

    page.goto(f"{stack.mid_url}/?q={traffic.sent}")  # the demo's email: nothing to say
    page.locator("a.message-link").first.click()
    page.get_by_role("tab", name="Compatibility").click()
    expect(page.locator("#compatibility-summary")).to_contain_text("Nothing found")


def test_a_test_event_goes_through_the_cell_and_links_to_its_event_and_message(
    page: Page, stack: StackRunner
) -> None:
    """Issue 18 item 6: a "send a test event" action; its outcome shown where it was sent."""
    template_id = _published_template(stack, "TEST_EVENT")
    _log_in(page, stack, f"/templates/{template_id}")
    page.get_by_role("button", name="Send a test event to Zoe").click()
    feedback = page.locator("#test-event-feedback")
    expect(feedback).to_contain_text("accepted by the load balancer: TEST_EVENT for Zoe")
    pl_id = int(page.locator("#test-event-plid").inner_text())
    # the message, captured as a real one (not a proof) with the seed's ctx
    page.locator("#test-event-message").click()
    expect(page).to_have_url(f"{stack.mid_url}/?q={pl_id}")
    # the list shows it once captured (it follows the captures live): a loaded machine is slow
    expect(page.locator("a.message-link")).to_have_count(1, timeout=45_000)
    page.locator("a.message-link").first.click()
    expect(page.locator("#message-subject")).to_have_text("Hello Zoe")
    expect(page.locator("#message-event-id")).to_have_text(str(pl_id))
    # and the event, in the history once archived
    _event_page(page, stack, pl_id, "Sent")
    expect(page.locator("#event-email")).to_have_text("zoe@example.com")
    expect(page.locator("#event-ctx")).to_contain_text("<firstName>Zoe</firstName>")


def test_an_event_links_to_each_try_of_its_message(
    page: Page, stack: StackRunner, traffic: Traffic
) -> None:
    """Issue 18 item 4: an event's page links to its captured message "and to each try"."""
    _log_in(page, stack)
    _event_page(page, stack, traffic.failed, "Delivery failed")
    tries = page.locator("#event-try-list li")
    expect(tries).to_have_count(5)
    expect(tries.nth(0)).to_contain_text("to be tried again: Mailbox full")
    expect(tries.nth(4)).to_contain_text("failed: Mailbox full")
    page.locator("#event-try-3").click()
    expect(page).to_have_url(re.compile(re.escape(stack.mid_url) + r"/messages/\d+#try-3$"))
    third = page.locator("#try-3")
    expect(third).to_contain_text("Try 3")
    expect(third).to_contain_text("to be tried again")
    expect(third).to_contain_text("Mailbox full")
    assert page.evaluate("document.querySelector(':target').id") == "try-3"
    expect(page.locator("#delivery-log li")).to_have_count(5)
    expect(page.locator("#try-5")).to_contain_text("failed")
    assert _axe(page) == []

    _event_page(page, stack, traffic.sent, "Sent")  # sent at once: one try
    expect(page.locator("#event-try-list li")).to_have_count(1)
    expect(page.locator("#event-try-1")).to_have_attribute("href", re.compile(r"#try-1$"))


def test_the_mailbox_list_updates_itself_when_a_message_is_captured(
    page: Page, stack: StackRunner
) -> None:
    """Issue 18 item 5: live updates over Server-Sent Events: a message captured after the list
    was opened shows in it, without reloading the page and without polling."""
    # (the other tests' traffic streams changes too: each reloads the list, 204 when unchanged)
    address = "live.update@example.com"
    with page.expect_response(lambda r: r.url.endswith("/api/v1/messages/stream")):
        page.goto(f"{stack.mid_url}/?q={address}")
    expect(page.locator("#messages .message-row")).to_have_count(0)
    page.evaluate("window.sameDocument = true")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    with httpx.Client(base_url=stack.lb_url, timeout=30) as api:
        answer = api.post(RESET, json={"email": address, "ctx": CTX}, headers=TOKEN)
        assert answer.status_code == 201, answer.text
    row = page.locator("#messages .message-row")
    expect(row).to_have_count(1, timeout=20_000)
    expect(row.locator(".recipient")).to_have_text(address)
    expect(row.locator(".status")).to_contain_text("sent")
    assert page.evaluate("window.sameDocument") is True  # the list changed, not the page
    assert any("/?q=" in url for url in requests)
    # reloaded when the stream tells of a change (any message's), never on a timer
    expect(page.locator("#message-list")).to_have_attribute(
        "hx-trigger", "messages-changed from:body"
    )
