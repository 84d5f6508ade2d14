"""The execution instances page: list, add, edit, enable/disable, delete, test and initialize."""

from __future__ import annotations

from services.dev_credentials import CONTROL_PLANE
from tests.integration.console.conftest import Browser
from tests.integration.console.ops_support import console_as
from tests.integration.control.conftest import exec_url


async def _accounts(browser: Browser) -> dict[str, dict[str, object]]:
    headers = await browser.cell.login()
    listed = await browser.client.get("/api/v1/execution-instances", headers=headers)
    return {item["name"]: item for item in listed.json()["items"]}


async def test_the_list_shows_each_instance_its_id_and_last_check(browser: Browser) -> None:
    answer = await browser.get("/instances")
    assert answer.status_code == 200
    assert 'id="instance-1"' in answer.text and 'id="instance-2"' in answer.text
    assert exec_url(1) in answer.text and exec_url(2) in answer.text
    assert 'id="instance-1-test"' in answer.text and 'id="instance-create"' in answer.text
    assert ' id="instance-name" ' in answer.text and ' id="instance-password" ' in answer.text
    assert 'hx-get="/monitoring/summary"' in answer.text


async def test_adding_an_instance_never_shows_its_password_again(browser: Browser) -> None:
    answer = await browser.hx(
        "POST",
        "/instances",
        data={
            "name": "exec9",
            "label": "Spare",
            "url": exec_url(1),
            "login": CONTROL_PLANE[0],
            "password": "s3cret-pa55",
            "enabled": "1",
        },
    )
    assert answer.status_code == 200, answer.text
    assert 'hx-swap-oob="innerHTML"' in answer.text and "exec9 added" in answer.text
    assert "s3cret-pa55" not in answer.text
    accounts = await _accounts(browser)
    assert accounts["exec9"]["label"] == "Spare" and accounts["exec9"]["enabled"] is True
    edit = await browser.get(f"/instances/{accounts['exec9']['id']}")
    assert edit.status_code == 200 and "s3cret-pa55" not in edit.text
    assert 'name="password" type="password" value=""' in edit.text


async def test_a_wrong_form_is_refused_with_the_field_and_changes_nothing(browser: Browser) -> None:
    before = await _accounts(browser)
    answer = await browser.hx(
        "POST", "/instances", data={"name": "9bad", "url": "ftp://x", "password": "p"}
    )
    assert answer.status_code == 400
    assert answer.headers["HX-Retarget"] == "#flash"
    assert "name" in answer.text and "url" in answer.text
    assert await _accounts(browser) == before
    duplicate = await browser.hx(
        "POST", "/instances", data={"name": "exec1", "url": exec_url(1), "password": "p"}
    )
    assert duplicate.status_code == 409 and "exists already" in duplicate.text


async def test_editing_keeps_the_password_when_the_field_is_left_empty(browser: Browser) -> None:
    answer = await browser.post(
        "/instances/1",
        {"label": "Renamed", "url": exec_url(1), "login": CONTROL_PLANE[0], "enabled": "1"},
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/instances"
    assert (await _accounts(browser))["exec1"]["label"] == "Renamed"
    tested = await browser.hx("POST", "/instances/1/test")  # the stored password still works
    assert tested.status_code == 200 and "Connection OK" in tested.text
    wrong = await browser.post(
        "/instances/1",
        {"url": exec_url(1), "login": CONTROL_PLANE[0], "password": "wrong", "enabled": "1"},
    )
    assert wrong.status_code == 303
    failed = await browser.hx("POST", "/instances/1/test")
    assert failed.status_code == 200 and "Connection failed" in failed.text
    assert (await _accounts(browser))["exec1"]["last_check_ok"] is False


async def test_test_connection_shows_the_outcome_and_records_the_check(browser: Browser) -> None:
    answer = await browser.hx("POST", "/instances/2/test")
    assert answer.status_code == 200
    assert 'id="connection-outcome"' in answer.text and "Instance id 2" in answer.text
    assert (await _accounts(browser))["exec2"]["last_check_ok"] is True
    browser.cell.switches[exec_url(2)].down = True
    down = await browser.hx("POST", "/instances/2/test")
    assert down.status_code == 200 and "Connection failed" in down.text
    assert (await _accounts(browser))["exec2"]["last_check_ok"] is False


async def test_initialize_records_the_instance_id_and_refuses_a_duplicate(browser: Browser) -> None:
    await browser.hx(
        "POST",
        "/instances",
        data={"name": "twin", "url": exec_url(1), "password": CONTROL_PLANE[1]},
    )
    twin = (await _accounts(browser))["twin"]
    refused = await browser.hx("POST", f"/instances/{twin['id']}/initialize")
    assert refused.status_code == 409 and "exec1" in refused.text
    moved = {"url": "http://exec-7.test", "password": CONTROL_PLANE[1]}
    await browser.post(f"/instances/{twin['id']}", moved)
    await browser.hx("POST", "/instances/1/delete")
    back = {"url": exec_url(1), "password": CONTROL_PLANE[1]}
    await browser.post(f"/instances/{twin['id']}", back)
    done = await browser.hx("POST", f"/instances/{twin['id']}/initialize")
    assert done.status_code == 200 and "instance id 1" in done.text
    assert (await _accounts(browser))["twin"]["instance_id"] == 1


async def test_disable_enable_and_delete_change_what_the_api_reports(browser: Browser) -> None:
    disabled = await browser.hx("POST", "/instances/2/disable")
    assert disabled.status_code == 200 and 'id="instance-2-enable"' in disabled.text
    assert (await _accounts(browser))["exec2"]["enabled"] is False
    enabled = await browser.post("/instances/2/enable")
    assert enabled.status_code == 303
    assert (await _accounts(browser))["exec2"]["enabled"] is True
    deleted = await browser.hx("POST", "/instances/2/delete")
    assert deleted.status_code == 200 and "exec2 deleted" in deleted.text
    assert "exec2" not in await _accounts(browser)
    missing = await browser.hx("POST", "/instances/2/delete")
    assert missing.status_code == 404


async def test_changes_need_the_csrf_token(browser: Browser) -> None:
    answer = await browser.client.post("/instances/2/disable", headers={"accept": "text/html"})
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert (await _accounts(browser))["exec2"]["enabled"] is True


async def test_viewers_read_the_list_without_change_buttons(browser: Browser) -> None:
    async with console_as(browser, "viewer") as viewer:
        page = await viewer.get("/instances")
        assert page.status_code == 200 and exec_url(1) in page.text
        assert 'id="instance-1-test"' not in page.text and 'id="instance-create"' not in page.text
        assert (await viewer.get("/instances/1")).status_code == 403
        refused = await viewer.hx("POST", "/instances/2/disable")
        assert refused.status_code == 403
    assert (await _accounts(browser))["exec2"]["enabled"] is True


async def test_an_id_out_of_range_is_refused_not_a_crash(browser: Browser) -> None:
    page = await browser.get(f"/instances/{2**64}")
    assert page.status_code == 400 and "<html" in page.text
    action = await browser.hx("POST", f"/instances/{2**64}/disable")
    assert action.status_code == 400 and action.headers["HX-Retarget"] == "#flash"
    operator = await browser.hx("POST", f"/operators/{2**64}/disable")
    assert operator.status_code == 400
