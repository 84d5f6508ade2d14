"""The console's event types page: list, create, change, delete; errors, roles, CSRF, escaping."""

from __future__ import annotations

from typing import Any

from tests.integration.console.conftest import HTML, Browser, open_browser
from tests.integration.control.conftest import exec_url


async def _api_event_types(browser: Browser) -> dict[str, dict[str, Any]]:
    admin = await browser.cell.login()
    answer = await browser.client.get("/api/v1/event-types", headers=admin)
    assert answer.status_code == 200
    return {item["name"]: item for item in answer.json()["items"]}


async def _viewer(browser: Browser) -> Browser:
    await browser.cell.as_role("viewer")
    return await open_browser(browser.cell, "viewer-user", "password-viewer")


async def test_the_list_starts_empty_and_a_created_type_is_listed_and_published(
    browser: Browser,
) -> None:
    empty = await browser.get("/event-types")
    assert empty.status_code == 200
    assert "No event types yet." in empty.text
    assert 'id="event-type-form"' in empty.text and 'aria-current="page"' in empty.text

    created = await browser.hx(
        "POST", "/event-types", data={"name": "PASSWORD_RESET", "label": "Password reset"}
    )
    assert created.status_code == 200
    assert 'id="event-types"' in created.text and 'class="feedback"' in created.text
    assert "Event type PASSWORD_RESET created." in created.text
    assert created.text.count('class="ok"') == 2  # both execution instances took it
    assert (await _api_event_types(browser))["PASSWORD_RESET"]["label"] == "Password reset"
    for url in (exec_url(1), exec_url(2)):
        on_instance = await browser.cell.mc(url, "GET", "/event-types")
        assert "PASSWORD_RESET" in on_instance.text

    listed = await browser.get("/event-types")
    assert "<code>PASSWORD_RESET</code>" in listed.text and "No event types yet." not in listed.text


async def test_the_label_is_changed_and_a_type_is_deleted_after_confirmation(
    browser: Browser,
) -> None:
    await browser.hx("POST", "/event-types", data={"name": "ORDER", "label": "Order"})
    event_type = (await _api_event_types(browser))["ORDER"]
    changed = await browser.hx(
        "POST", f"/event-types/{event_type['id']}", data={"label": "Order confirmed"}
    )
    assert changed.status_code == 200 and "Event type ORDER changed." in changed.text
    assert (await _api_event_types(browser))["ORDER"]["label"] == "Order confirmed"

    page = await browser.get("/event-types")
    assert f'hx-post="/event-types/{event_type["id"]}/delete"' in page.text
    assert 'hx-confirm="Delete the event type ORDER?' in page.text
    deleted = await browser.hx("POST", f"/event-types/{event_type['id']}/delete")
    assert deleted.status_code == 200 and "Event type ORDER deleted." in deleted.text
    assert "ORDER" not in await _api_event_types(browser)
    assert "No event types yet." in deleted.text


async def test_errors_are_shown_in_the_flash_region_and_change_nothing(browser: Browser) -> None:
    bad = await browser.hx("POST", "/event-types", data={"name": "9 bad name", "label": "x"})
    assert bad.status_code == 400
    assert bad.headers["HX-Retarget"] == "#flash"
    assert "alert error" in bad.text and "name" in bad.text
    assert await _api_event_types(browser) == {}

    await browser.hx("POST", "/event-types", data={"name": "DUP"})
    again = await browser.hx("POST", "/event-types", data={"name": "DUP"})
    assert again.status_code == 409 and "exists already" in again.text

    admin = await browser.cell.login()
    used = await browser.client.post(
        "/api/v1/templates", json={"event_type": "DUP", "channel": "sms"}, headers=admin
    )
    assert used.status_code == 201
    event_type = (await _api_event_types(browser))["DUP"]
    refused = await browser.hx("POST", f"/event-types/{event_type['id']}/delete")
    assert refused.status_code == 409 and "used by templates" in refused.text
    assert "DUP" in await _api_event_types(browser)
    missing = await browser.hx("POST", "/event-types/9999", data={"label": "x"})
    assert missing.status_code == 404 and missing.headers["HX-Retarget"] == "#flash"


async def test_a_failed_instance_is_shown_in_the_outcome_table(browser: Browser) -> None:
    browser.cell.switches[exec_url(2)].down = True
    created = await browser.hx("POST", "/event-types", data={"name": "PARTIAL"})
    assert created.status_code == 200
    assert 'class="alert warn"' in created.text
    assert 'class="failed"' in created.text and 'class="ok"' in created.text


async def test_changes_without_csrf_are_refused(browser: Browser) -> None:
    answer = await browser.client.post("/event-types", data={"name": "NOCSRF"}, headers=HTML)
    assert answer.status_code == 403 and "CSRF" in answer.text
    htmx = await browser.client.post(
        "/event-types", data={"name": "NOCSRF"}, headers={"HX-Request": "true", **HTML}
    )
    assert htmx.status_code == 403
    assert await _api_event_types(browser) == {}


async def test_a_viewer_sees_the_list_but_cannot_change_it(browser: Browser) -> None:
    await browser.hx("POST", "/event-types", data={"name": "SEEN", "label": "Seen"})
    event_type = (await _api_event_types(browser))["SEEN"]
    viewer = await _viewer(browser)
    page = await viewer.get("/event-types")
    assert page.status_code == 200 and "<code>SEEN</code>" in page.text
    assert 'id="event-type-form"' not in page.text and "/delete" not in page.text
    for path, data in (
        ("/event-types", {"name": "NOPE"}),
        (f"/event-types/{event_type['id']}", {"label": "changed"}),
        (f"/event-types/{event_type['id']}/delete", {}),
    ):
        refused = await viewer.hx("POST", path, data=data)
        assert refused.status_code == 403, path
        assert "editor role" in refused.text
    assert set(await _api_event_types(browser)) == {"SEEN"}
    assert (await _api_event_types(browser))["SEEN"]["label"] == "Seen"


async def test_a_hostile_label_is_shown_inert(browser: Browser) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    await browser.hx("POST", "/event-types", data={"name": "HOSTILE", "label": hostile})
    page = await browser.get("/event-types")
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
