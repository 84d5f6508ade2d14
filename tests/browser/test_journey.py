"""One journey through the whole product in a real browser, on the real stack (issue #7).

Log in to the console, create an event type and an e-mail template with personalization, add a
seed address, preview it, send a proof, publish; push an event over SOAP with zeep through the
load balancer; find it in the event history as Sent, open its captured message in the
mid-sourcing mailbox, and see it counted in the reports. Then the same with hostile ``ctx``
content: it must be shown inert everywhere.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
import zeep
from lxml import etree
from playwright.sync_api import Page, Route, expect

from tests.support.stack import StackRunner, running_stack

pytestmark = [pytest.mark.browser, pytest.mark.system]

EVENT_TYPE = "ORDER_SHIPPED"
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">\'"'


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRunner]:
    """The whole stack (two execution instances, no demo), archiving every half second."""
    data = tmp_path_factory.mktemp("journey") / "data"
    env = {"MCSIM_CONTROL_ARCHIVE_INTERVAL_SECONDS": "0.5"}
    with running_stack(data, "--no-demo", instances=2, env=env) as running:
        yield running


def _no_script_ran(page: Page) -> None:
    assert page.evaluate("typeof window.pwned") == "undefined"


def _log_in(page: Page, stack: StackRunner) -> None:
    page.goto(stack.control_url + "/templates")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Ftemplates$"))
    page.get_by_label("Login").fill("admin")
    page.get_by_label("Password").fill("admin")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(stack.control_url + "/templates")


def _create_template(page: Page, stack: StackRunner) -> str:
    page.goto(stack.control_url + "/event-types")
    page.locator("#event-type-name").fill(EVENT_TYPE)
    page.locator("#event-type-label").fill("Order shipped")
    page.locator("#event-type-create").click()
    expect(page.locator("#event-types")).to_contain_text(EVENT_TYPE)

    page.goto(stack.control_url + "/templates/new")
    page.locator("#template-event-type").select_option(EVENT_TYPE)
    page.locator("#template-channel").select_option("email")
    page.locator("#template-create").click()
    expect(page).to_have_url(re.compile(r"/templates/\d+$"))
    page.locator("#field-from_address").fill("shop@example.com")
    page.locator("#field-subject").fill("Order <%= rtEvent.ctx.orderId %> has shipped")
    page.locator("#field-html").fill(
        "<html><body><h1>Hello <%= rtEvent.ctx.firstName %></h1>"
        "<p>Your order <%= rtEvent.ctx.orderId %> is on its way.</p></body></html>"
    )
    page.locator("#field-text").fill("Hello <%= rtEvent.ctx.firstName %>, order shipped.")
    page.locator("#template-save").click()
    expect(page.locator("#save-feedback")).to_contain_text("saved", ignore_case=True)
    return page.url


def _seed_preview_proof_publish(page: Page) -> None:
    page.locator("#seed-label").fill("Seedy")
    page.locator("#seed-address").fill("seed@example.com")
    page.locator("#seed-ctx").fill("<ctx><firstName>Seedy</firstName><orderId>S-17</orderId></ctx>")
    page.locator("#seed-add-button").click()
    expect(page.locator("#seeds-table")).to_contain_text("seed@example.com")

    page.locator("#preview-refresh").click()
    expect(page.locator("#preview-subject")).to_have_text("Order S-17 has shipped")
    expect(page.frame_locator("#preview-frame").locator("h1")).to_have_text("Hello Seedy")

    page.locator("#proof-form input[name=seed_ids]").first.check()
    page.locator("#proof-send").click()
    expect(page.locator("#proof-result")).to_contain_text("seed@example.com")

    page.locator("#template-publish").click()
    expect(page.locator("#template-state")).to_have_text("Published")
    expect(page.locator("#template-version")).to_have_text("v1")


def _push(
    stack: StackRunner, email: str, first_name: str, order: str, event_type: str = EVENT_TYPE
) -> int:
    client = zeep.Client(f"{stack.lb_url}/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent")
    event = etree.Element("rtEvent", type=event_type, email=email, wishedChannel="0")
    ctx = etree.SubElement(event, "ctx")
    etree.SubElement(ctx, "firstName").text = first_name
    etree.SubElement(ctx, "orderId").text = order
    return int(client.service.PushEvent(sessiontoken="mc/mc", domEvent={"_value_1": event}))


def _find_sent_event(page: Page, stack: StackRunner, email: str, pl_id: int) -> None:
    row = page.locator(f"#event-{pl_id}")
    deadline = time.monotonic() + 45
    while True:
        page.goto(f"{stack.control_url}/events?email={email}")
        if row.count() and row.locator(".badge").inner_text().strip() == "Sent":
            break
        assert time.monotonic() < deadline, f"event {pl_id} never showed as sent"
        time.sleep(0.5)
    row.get_by_role("link").first.click()
    expect(page.locator("#event-status")).to_have_text("Sent")


def test_the_whole_journey(page: Page, stack: StackRunner) -> None:
    page.on("dialog", lambda dialog: dialog.accept())
    _log_in(page, stack)
    _create_template(page, stack)
    _seed_preview_proof_publish(page)

    email = "ann.journey@example.com"
    pl_id = _push(stack, email, "Ann", "A-1001")
    _find_sent_event(page, stack, email, pl_id)

    # the captured message, in the mid-sourcing mailbox
    page.locator("#event-message-link").click()
    expect(page).to_have_url(re.compile(re.escape(stack.mid_url)))
    if "/messages/" not in page.url:
        page.locator("a.message-link").first.click()
    expect(page.locator("#message-subject")).to_have_text("Order A-1001 has shipped")
    expect(page.locator("#message-to")).to_contain_text(email)
    expect(page.frame_locator("#message-html").locator("h1")).to_have_text("Hello Ann")
    page.get_by_role("tab", name="Text").click()
    expect(page.locator("#message-text")).to_contain_text("Hello Ann, order shipped.")

    # the proof is in the mailbox too, marked as such
    page.goto(stack.mid_url + "/?q=seed@example.com")
    expect(page.locator("#messages")).to_contain_text("Order S-17 has shipped")

    # and the event is counted in the reports
    page.goto(stack.control_url + "/reports")
    expect(page.locator("#report-history-types")).to_contain_text(EVENT_TYPE)
    assert int(page.locator("#report-history-sent").inner_text()) >= 1
    assert not page.console_errors  # type: ignore[attr-defined]


def _publish_through_the_api(stack: StackRunner, event_type: str) -> None:
    with httpx.Client(base_url=stack.control_url, timeout=30) as api:
        token = api.post("/api/v1/auth/login", json={"login": "admin", "password": "admin"})
        api.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        assert api.post("/api/v1/event-types", json={"name": event_type}).status_code == 201
        content = {
            "from_address": "shop@example.com",
            "subject": "Hello <%= rtEvent.ctx.firstName %>",
            "html": "<html><body><h1>Hello <%= rtEvent.ctx.firstName %></h1></body></html>",
            "text": "Hello <%= rtEvent.ctx.firstName %>",
        }
        created = api.post(
            "/api/v1/templates",
            json={"event_type": event_type, "channel": "email", "content": content},
        )
        assert created.status_code == 201, created.text
        published = api.post(f"/api/v1/templates/{created.json()['id']}/publish")
        assert published.status_code == 200 and published.json()["complete"], published.text


def test_hostile_ctx_is_inert_everywhere(page: Page, stack: StackRunner) -> None:
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
    _publish_through_the_api(stack, "HOSTILE_ECHO")
    _log_in(page, stack)
    email = "mallory@example.com"
    pl_id = _push(stack, email, HOSTILE, "M-1", event_type="HOSTILE_ECHO")
    _find_sent_event(page, stack, email, pl_id)
    # the ctx is shown as its XML source: the markup in the text stays escaped, as text
    expect(page.locator("#event-ctx")).to_contain_text("&lt;script&gt;window.pwned=1")
    _no_script_ran(page)

    page.goto(f"{stack.control_url}/events?email={email}")
    expect(page.locator(f"#event-{pl_id}")).to_be_visible()
    _no_script_ran(page)

    page.goto(f"{stack.mid_url}/?q={email}")
    page.locator("a.message-link").first.click()
    expect(page.locator("#message-to")).to_contain_text(email)
    frame = page.frame_locator("#message-html")
    expect(frame.locator("h1")).to_contain_text("Hello")  # rendered, but no script ran in it
    assert frame.locator("body").evaluate("() => typeof window.pwned") == "undefined"
    _no_script_ran(page)
    page.get_by_role("tab", name="Text").click()
    expect(page.locator("#message-text")).to_contain_text("<script>window.pwned=1</script>")
    _no_script_ran(page)


PAGES = ["/", "/event-types", "/templates", "/instances", "/monitoring", "/events", "/reports"]


def test_the_console_works_from_the_keyboard(page: Page, stack: StackRunner) -> None:
    page.goto(stack.control_url + "/login")
    expect(page.locator("input[name=login]")).to_be_focused()  # autofocus
    page.keyboard.type("admin")
    page.keyboard.press("Tab")
    expect(page.locator("input[name=password]")).to_be_focused()
    page.keyboard.type("admin")
    page.keyboard.press("Enter")
    expect(page).to_have_url(stack.control_url + "/")
    page.keyboard.press("Tab")  # the skip link comes first, and leads to the content
    expect(page.locator("a.skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    # every section is reachable by tabbing through the navigation, in order
    links = page.locator("nav.side a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
    assert hrefs[: len(PAGES)] == PAGES
    page.locator("a.skip").focus()
    page.keyboard.press("Tab")  # past the skip link: the brand, then the logout button
    for _ in range(10):
        if page.evaluate("document.activeElement.closest('nav.side') !== null"):
            break
        page.keyboard.press("Tab")
    expect(links.first).to_be_focused()
    page.keyboard.press("Tab")
    expect(links.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(stack.control_url + "/event-types")


def test_pages_fit_a_phone_screen(page: Page, stack: StackRunner) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _log_in(page, stack)
    for path in PAGES:
        page.goto(stack.control_url + path)
        expect(page.locator("main h1").first).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the screen"
    for path in ["/", "/quarantine", "/chaos"]:
        page.goto(stack.mid_url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"mailbox {path} is {overflow}px wider than the screen"
    assert not page.console_errors  # type: ignore[attr-defined]


def test_the_api_docs_of_every_service_render_without_internet(
    page: Page, stack: StackRunner
) -> None:
    """/docs is Swagger UI served by the service itself (issue 18): with every request that
    leaves this machine refused, it renders the service's API, and nothing fails to load."""
    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        if route.request.url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    for url in (stack.control_url, stack.mid_url, stack.lb_url, stack.exec_url(1)):
        page.goto(url + "/docs")
        expect(page.locator(".swagger-ui .info .title")).to_be_visible()
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    assert outside == []
    assert page.console_errors == []  # type: ignore[attr-defined]


def test_the_template_editor_keeps_what_is_typed_while_the_preview_shows_an_error(
    page: Page, stack: StackRunner
) -> None:
    """Pausing after an unfinished `<%=` makes the live preview show an error; the focus must
    stay in the field, so that what is typed next lands there (issue 18)."""
    with httpx.Client(base_url=stack.control_url, timeout=30) as api:
        token = api.post("/api/v1/auth/login", json={"login": "admin", "password": "admin"})
        api.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        assert api.post("/api/v1/event-types", json={"name": "EDITOR_TYPING"}).status_code == 201
        content = {"from_address": "shop@example.com", "subject": "Hi", "html": "<p>Hi", "text": ""}
        created = api.post(
            "/api/v1/templates",
            json={"event_type": "EDITOR_TYPING", "channel": "email", "content": content},
        )
        assert created.status_code == 201, created.text
    _log_in(page, stack)
    page.goto(f"{stack.control_url}/templates/{created.json()['id']}")
    html = page.locator("#field-html")
    html.click()
    page.keyboard.press("End")
    page.keyboard.type(" <%=")
    expect(page.locator("#preview .alert.error")).to_be_visible()  # after the 500 ms pause
    page.keyboard.type(" rtEvent.ctx.name %></p>")
    expect(html).to_be_focused()
    expect(html).to_have_value("<p>Hi <%= rtEvent.ctx.name %></p>")


def test_a_failed_package_check_leaves_no_earlier_report_behind(
    page: Page, stack: StackRunner
) -> None:
    """After a good package's check, a bad one's: its error is shown and the earlier report
    (with, when it had changes, its "Apply the import" button for the other package) is gone
    (issue 18)."""
    with httpx.Client(base_url=stack.control_url, timeout=30) as api:
        token = api.post("/api/v1/auth/login", json={"login": "admin", "password": "admin"})
        api.headers["authorization"] = f"Bearer {token.json()['access_token']}"
        package = api.get("/api/v1/packages/export")
        assert package.status_code == 200, package.text
    _log_in(page, stack)
    page.goto(stack.control_url + "/packages")
    upload = page.locator("#import-file")
    upload.set_input_files(
        {"name": "good.xml", "mimeType": "application/xml", "buffer": package.content}
    )
    page.locator("#package-dry-run").click()
    expect(page.locator("#import-report")).to_be_visible()
    upload.set_input_files(
        {"name": "bad.xml", "mimeType": "application/xml", "buffer": b"<package"}
    )
    page.locator("#package-dry-run").click()
    expect(page.locator("#flash .alert.error, #flash [role=alert]").first).to_be_visible()
    expect(page.locator("#import-report")).to_have_count(0)
    expect(page.locator("#package-apply")).to_have_count(0)
