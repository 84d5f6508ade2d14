"""The reports page: history by type x period, service level, processing time, charts, CSV."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.integration.console.conftest import Browser
from tests.integration.console.ops_support import archive, archived_event, console_as


def _number(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', page)
    assert found, element_id
    return found.group(1)


async def test_the_reports_count_archived_events_and_draw_charts(browser: Browser) -> None:
    at = datetime.now(UTC) - timedelta(minutes=10)
    archive(
        browser,
        archived_event(event_type="ORDER", status=2, created_at=at),
        archived_event(event_type="ORDER", status=2, created_at=at),
        archived_event(event_type="RESET", status=4, failure_reason=1, created_at=at),
        archived_event(event_type="RESET", status=5, channel=1, created_at=at),
    )
    answer = await browser.get("/reports")
    assert answer.status_code == 200
    page = answer.text
    assert _number(page, "report-history-events") == "4"
    assert _number(page, "report-history-sent") == "2"
    assert _number(page, "report-level-incoming") == "4"
    assert _number(page, "report-level-outgoing") == "2"
    assert _number(page, "report-level-error-rate") == "50.00%"
    assert '<svg class="chart"' in page
    today = at.strftime("%Y-%m-%d")
    week_ago = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%d")
    assert f"<title>{today} · events: 4</title>" in page
    assert f"<title>{today} · sent: 2</title>" in page
    assert f"<title>{week_ago} · events: 0</title>" in page  # empty days are drawn too
    assert 'data-type="ORDER"><td>ORDER</td><td>2</td><td>2</td>' in page
    api = await browser.client.get("/api/v1/reports/history", headers=await browser.cell.login())
    assert api.json()["events"] == 4 and api.json()["sent"] == 2


async def test_filters_narrow_the_reports_and_the_csv_links_follow(browser: Browser) -> None:
    old = datetime.now(UTC) - timedelta(days=20)
    archive(
        browser,
        archived_event(status=2, channel=0),
        archived_event(status=2, channel=1),
        archived_event(instance_id=2, status=2, channel=0),
        archived_event(status=2, created_at=old),
    )
    by_channel = (await browser.get("/reports?channel=1")).text
    assert _number(by_channel, "report-history-events") == "1"
    by_instance = (await browser.get("/reports?instance=2&interval=hour")).text
    assert _number(by_instance, "report-history-events") == "1"
    since = (old - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    whole = (await browser.get(f"/reports?since={since}&interval=month")).text
    assert _number(whole, "report-history-events") == "4"
    link = re.search(r'id="report-history-csv" href="([^"]+)"', by_channel)
    assert link
    csv = await browser.client.get(link.group(1).replace("&amp;", "&"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("period,event_type,events,sent") and len(lines) == 2


async def test_a_wrong_filter_is_explained(browser: Browser) -> None:
    answer = await browser.get("/reports?interval=week")
    assert answer.status_code == 200 and "Choose hour, day or month" in answer.text
    reversed_period = await browser.get("/reports?since=2026-02-01T00:00&until=2026-01-01T00:00")
    assert "Choose a start before the end" in reversed_period.text
    assert 'value="2026-02-01T00:00"' in reversed_period.text  # what was typed stays


async def test_an_empty_period_says_so(browser: Browser) -> None:
    answer = await browser.get("/reports")
    assert answer.status_code == 200 and "No event in this period." in answer.text


async def test_viewers_read_the_reports(browser: Browser) -> None:
    archive(browser, archived_event(status=2))
    async with console_as(browser, "viewer") as viewer:
        answer = await viewer.get("/reports")
        assert answer.status_code == 200
        assert _number(answer.text, "report-history-events") == "1"
