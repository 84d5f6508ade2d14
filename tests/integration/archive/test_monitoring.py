"""Monitoring reads every instance's statistics and the balancer, against the thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import update

from execution_instance.intake.channels import EventStatus, Queue
from execution_instance.tables import Event
from services.plid import pk_of
from tests.integration.archive.helpers import finish, hand_over, instance, push
from tests.integration.console.conftest import open_browser
from tests.integration.control.conftest import Cell, control_cell, exec_url
from tests.integration.load_balancer.conftest import running_balancer
from tests.support.live import free_port

THRESHOLDS = {
    "monitor_queue_warning": 2,
    "monitor_queue_alert": 4,
    "monitor_error_rate_warning": 10.0,
    "monitor_error_rate_alert": 40.0,
}


async def monitoring(cell: Cell, headers: dict[str, str]) -> dict[str, Any]:
    """Return GET /api/v1/monitoring."""
    answer = await cell.control.get("/api/v1/monitoring", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def checks(instance: dict[str, Any]) -> dict[str, str]:
    """Return the level of each indicator."""
    return {check["indicator"]: check["level"] for check in instance["checks"]}


async def test_queue_and_error_rate_thresholds_raise_warnings_and_alerts(tmp_path: Path) -> None:
    async with control_cell(tmp_path, archive_interval_seconds=0, **THRESHOLDS) as cell:
        viewer = await cell.as_role("viewer")
        await push(cell, 1, count=2)
        await push(cell, 1, count=1, queue=Queue.BATCH)
        sent, failed = await push(cell, 2, count=2)
        hand_over(cell, 2, [sent, failed])
        finish(cell, 2, [sent], EventStatus.PROCESSED)
        finish(cell, 2, [failed], EventStatus.ROUTING_FAILED)

        body = await monitoring(cell, viewer)
        one, two = sorted(body["instances"], key=lambda i: i["name"])
        assert (one["pending_rt"], one["pending_batch"]) == (2, 1)
        assert one["events_in_per_hour"] == 3.0
        assert checks(one)["pending_events"] == "warning"  # 3 >= 2, < 4
        # Events wait and nothing went out within the hour: the throughput is an alert.
        assert checks(one)["outgoing_throughput"] == "alert"
        assert one["level"] == "alert"
        assert two["error_rate"] == 50.0
        assert two["stats"]["errors_by_status"]["routingFailed"] == 1
        assert two["messages_out_per_hour"] == 1.0
        assert two["avg_sending_seconds"] is not None
        assert checks(two)["error_rate"] == "alert"
        assert checks(two)["pending_events"] == "ok"
        assert checks(two)["outgoing_throughput"] == "ok"  # nothing pending: not judged
        assert two["level"] == "alert"
        assert body["level"] == "alert"
        assert body["load_balancer"] is None

        await push(cell, 1, count=1)
        assert checks((await monitoring(cell, viewer))["instances"][0])["pending_events"] == (
            "alert"
        )

        # the dashboard's summary says why an instance is not ok, next to it
        console = await open_browser(cell)
        summary = (await console.hx("GET", "/monitoring/summary")).text
        first, second = summary.split('id="health-2"')
        assert 'data-indicator="pending_events"' in first
        assert "Events pending in queue: 4 (alert at ≥ 4)" in first
        assert "Outgoing throughput (msg/h): 0 (alert at ≤" in first
        assert "Error rate (%): 50 (alert at ≥ 40)" in second
        assert 'data-indicator="pending_events"' not in second


async def test_an_unreachable_instance_is_an_alert(cell: Cell) -> None:
    admin = await cell.login()
    cell.switches[exec_url(2)].down = True
    body = await monitoring(cell, admin)
    one, two = sorted(body["instances"], key=lambda i: i["name"])
    assert one["reachable"] is True and one["level"] == "ok"
    assert two["reachable"] is False
    assert "cannot reach" in two["error"]
    assert two["level"] == "alert" and body["level"] == "alert"
    assert (await cell.control.get("/api/v1/monitoring")).status_code == 401


async def test_the_load_balancer_backends_are_reported(tmp_path: Path) -> None:
    backend = f"http://127.0.0.1:{free_port()}"  # nothing listens: the balancer marks it down
    with running_balancer([backend]) as balancer:
        async with control_cell(
            tmp_path, instances=1, archive_interval_seconds=0, load_balancer_url=balancer.url
        ) as cell:
            body = await monitoring(cell, await cell.login())
    lb = body["load_balancer"]
    assert lb["reachable"] is True
    assert [b["url"] for b in lb["backends"]] == [backend]
    assert lb["counts"]["total"] == 1


async def test_an_unreachable_load_balancer_is_an_alert(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with control_cell(
        tmp_path, instances=1, archive_interval_seconds=0, load_balancer_url=url
    ) as cell:
        body = await monitoring(cell, await cell.login())
    assert body["load_balancer"]["reachable"] is False
    assert body["load_balancer"]["error"]
    assert body["level"] == "alert"


async def test_queued_events_are_sampled_over_the_hour(cell: Cell) -> None:
    """Max/min/avg queued events (campaign-facts §4.7) come from the events' own times."""
    viewer = await cell.as_role("viewer")
    pl_ids = await push(cell, 1, count=4)
    half_an_hour_ago = datetime.now(UTC) - timedelta(minutes=30)
    with instance(cell, 1).db.transaction(write=True) as session:
        session.execute(update(Event).values(created_at=half_an_hour_ago))
    hand_over(cell, 1, pl_ids[:2])  # two leave the queue now, two are still pending

    one, two = sorted((await monitoring(cell, viewer))["instances"], key=lambda i: i["name"])
    # the queue was empty an hour ago, held 4 for half an hour and holds 2 now
    assert (one["queued_max"], one["queued_min"]) == (4, 0)
    assert 1.5 < one["queued_avg"] < 2.5
    assert one["stats"]["queued_events"]["samples"] == 61
    assert (two["queued_max"], two["queued_min"], two["queued_avg"]) == (0, 0, 0.0)


async def test_finished_events_and_times_count_only_within_the_window(cell: Cell) -> None:
    """Finished counts and average times read the window's rows (by updated_at), and only
    them: an event finished two hours ago is out of an hour's statistics, whatever its status."""
    viewer = await cell.as_role("viewer")
    old_sent, old_failed, new_sent, new_failed = await push(cell, 1, count=4)
    hand_over(cell, 1, [old_sent, old_failed, new_sent, new_failed])
    finish(cell, 1, [old_sent, new_sent], EventStatus.PROCESSED)
    finish(cell, 1, [old_failed, new_failed], EventStatus.DELIVERY_FAILED)
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    with instance(cell, 1).db.transaction(write=True) as session:
        session.execute(
            update(Event)
            .where(Event.id.in_([pk_of(old_sent), pk_of(old_failed)]))
            .values(
                created_at=two_hours_ago,
                processing_at=two_hours_ago,
                processed_at=two_hours_ago + timedelta(minutes=10),
                updated_at=two_hours_ago + timedelta(minutes=10),
            )
        )

    one, _two = sorted((await monitoring(cell, viewer))["instances"], key=lambda i: i["name"])
    stats = one["stats"]
    assert (stats["finished"], stats["messages_out"], stats["errors"]) == (2, 1, 1)
    assert stats["errors_by_status"]["deliveryFailed"] == 1
    assert one["error_rate"] == 50.0
    # The old event's 10 minutes of sending would dominate the averages if it were read.
    assert stats["avg_sending_seconds"] < 60
    assert stats["avg_processing_seconds"] < 60
