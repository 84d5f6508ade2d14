"""The monitoring page, its auto-refreshed fragment and the dashboard's summary."""

from __future__ import annotations

from tests.integration.console.conftest import Browser
from tests.integration.console.ops_support import console_as
from tests.integration.control.conftest import exec_url


async def test_the_page_shows_each_instance_against_the_thresholds(browser: Browser) -> None:
    answer = await browser.get("/monitoring")
    assert answer.status_code == 200
    assert 'hx-get="/monitoring/live"' in answer.text and 'hx-trigger="every 5s"' in answer.text
    assert 'id="monitor-instance-1"' in answer.text and 'id="monitor-instance-2"' in answer.text
    assert 'data-indicator="pending_events"' in answer.text
    assert "Average time in queue" in answer.text and "Load balancer" in answer.text
    assert 'id="monitor-instance-1-queued">0 / 0 / 0.0<' in answer.text


async def test_the_live_fragment_follows_the_instances(browser: Browser) -> None:
    live = await browser.hx("GET", "/monitoring/live")
    assert live.status_code == 200 and "<html" not in live.text
    assert live.text.count("badge status-ok") >= 2
    browser.cell.switches[exec_url(2)].down = True
    down = await browser.hx("GET", "/monitoring/live")
    assert "Unreachable" in down.text and "status-alert" in down.text
    summary = await browser.hx("GET", "/monitoring/summary")
    assert summary.status_code == 200 and "unreachable" in summary.text
    assert 'id="health-1"' in summary.text


async def test_viewers_see_monitoring(browser: Browser) -> None:
    async with console_as(browser, "viewer") as viewer:
        assert (await viewer.get("/monitoring")).status_code == 200
        assert (await viewer.hx("GET", "/monitoring/summary")).status_code == 200


async def test_the_fragment_needs_a_session(browser: Browser) -> None:
    browser.client.cookies.clear()
    answer = await browser.hx(
        "GET",
        "/monitoring/live",
        headers={"HX-Current-URL": "http://testserver/monitoring?x=1"},
    )
    # the login page brings the operator back to the page, not to its fragment
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"] == "/login?next=%2Fmonitoring%3Fx%3D1"
