"""Reports on known archived events: history, service level, processing time; CSV; roles."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from control_instance.tables import ArchivedEvent
from tests.integration.control.conftest import Cell

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
PERIOD = {"since": "2026-01-10T00:00:00Z", "until": "2026-01-12T00:00:00Z"}


def _event(
    pl_id: int,
    *,
    event_type: str,
    status: int,
    created: datetime,
    queued: float | None = None,
    sent: float | None = None,
    channel: int = 0,
    instance: int = 1,
) -> ArchivedEvent:
    return ArchivedEvent(
        pl_id=(instance << 56) | pl_id,
        account_id=instance,
        instance_id=instance,
        queue="rt",
        event_type=event_type,
        channel=channel,
        status=status,
        email=f"{pl_id}@example.com",
        document="<rtEvent/>",
        created_at=created,
        processing_at=created + timedelta(seconds=queued) if queued is not None else None,
        processed_at=created + timedelta(seconds=sent) if sent is not None else None,
        updated_at=created + timedelta(seconds=sent or 0),
        error_count=0,
        archived_at=created,
    )


def load_known_events(cell: Cell) -> None:
    """Archive seven events over two days (see the expected numbers in the tests)."""
    day2 = T0 + timedelta(days=1)
    rows = [
        _event(1, event_type="A", status=2, created=T0, queued=2, sent=5),
        _event(2, event_type="A", status=2, created=T0, queued=2, sent=7),
        _event(3, event_type="A", status=5, created=T0, sent=0),
        _event(4, event_type="A", status=0, created=T0),
        _event(5, event_type="A", status=4, created=day2, queued=4, sent=10, instance=2),
        _event(6, event_type="B", status=3, created=T0, queued=1, sent=3, channel=1),
        _event(7, event_type="B", status=6, created=T0, sent=0),
        _event(8, event_type="A", status=2, created=T0 - timedelta(days=3), queued=1, sent=2),
    ]
    db = cell.control_app.state.control.db
    with db.transaction(write=True) as session:
        session.add_all(rows)


async def report(cell: Cell, name: str, headers: dict[str, str], **query: Any) -> Any:
    """Return a report as JSON."""
    answer = await cell.control.get(
        f"/api/v1/reports/{name}", params={**PERIOD, **query}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_history_counts_events_and_sent_by_type_and_day(cell: Cell) -> None:
    load_known_events(cell)
    viewer = await cell.as_role("viewer")
    body = await report(cell, "history", viewer)
    rows = [(r["period"], r["event_type"], r["events"], r["sent"]) for r in body["rows"]]
    assert rows == [("2026-01-10", "A", 4, 2), ("2026-01-10", "B", 2, 0), ("2026-01-11", "A", 1, 0)]
    assert (body["events"], body["sent"]) == (7, 2)

    by_instance = await report(cell, "history", viewer, instance=2)
    assert [(r["period"], r["events"]) for r in by_instance["rows"]] == [("2026-01-11", 1)]
    by_channel = await report(cell, "history", viewer, channel=1)
    assert [(r["event_type"], r["events"]) for r in by_channel["rows"]] == [("B", 1)]
    hourly = await report(cell, "history", viewer, interval="hour")
    assert hourly["rows"][0]["period"] == "2026-01-10T09:00"
    monthly = await report(cell, "history", viewer, interval="month", since="2026-01-01T00:00:00Z")
    assert [(r["period"], r["event_type"], r["events"]) for r in monthly["rows"]] == [
        ("2026-01", "A", 6),
        ("2026-01", "B", 2),
    ]


async def test_service_level_counts_throughput_sending_time_and_errors_by_cause(
    cell: Cell,
) -> None:
    load_known_events(cell)
    body = await report(cell, "service-level", await cell.login())
    total = body["total"]
    assert total["incoming_events"] == 7
    assert total["incoming_per_hour"] == round(7 / 48, 3)
    assert total["outgoing_messages"] == 2
    assert total["outgoing_per_hour"] == round(2 / 48, 3)
    assert total["avg_sending_seconds"] == 4.0  # (3 + 5) / 2
    assert total["finished"] == 6
    assert total["errors"] == 4
    assert total["error_rate"] == round(400 / 6, 3)
    causes = ("routing_errors", "expired", "delivery_errors", "ignored")
    assert [total[cause] for cause in causes] == [1, 1, 1, 1]
    day1, day2 = body["rows"]
    assert (day1["period"], day1["incoming_events"], day1["incoming_per_hour"]) == (
        "2026-01-10",
        6,
        0.25,
    )
    assert (day2["delivery_errors"], day2["error_rate"]) == (1, 100.0)


async def test_processing_time_averages_queuing_sending_and_processing(cell: Cell) -> None:
    load_known_events(cell)
    body = await report(cell, "processing-time", await cell.login())
    total = body["total"]
    assert total["events"] == 7
    assert total["avg_queuing_seconds"] == round((2 + 2 + 4 + 1) / 4, 3)
    assert total["avg_sending_seconds"] == 4.0
    assert total["avg_processing_seconds"] == 6.0  # sent only: (5 + 7) / 2
    assert [row["period"] for row in body["rows"]] == ["2026-01-10", "2026-01-11"]


async def test_csv_exports_parse_with_the_same_numbers(cell: Cell) -> None:
    load_known_events(cell)
    admin = await cell.login()
    answer = await cell.control.get(
        "/api/v1/reports/history", params={**PERIOD, "format": "csv"}, headers=admin
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["period"], r["event_type"], int(r["events"]), int(r["sent"])) for r in rows] == [
        ("2026-01-10", "A", 4, 2),
        ("2026-01-10", "B", 2, 0),
        ("2026-01-11", "A", 1, 0),
    ]
    service = await cell.control.get(
        "/api/v1/reports/service-level", params={**PERIOD, "format": "csv"}, headers=admin
    )
    lines = list(csv.DictReader(io.StringIO(service.text)))
    assert lines[-1]["period"] == "total" and int(lines[-1]["errors"]) == 4
    timing = await cell.control.get(
        "/api/v1/reports/processing-time", params={**PERIOD, "format": "csv"}, headers=admin
    )
    last = list(csv.DictReader(io.StringIO(timing.text)))[-1]
    assert float(last["avg_processing_seconds"]) == 6.0


async def test_reports_need_a_login_and_a_valid_period(cell: Cell) -> None:
    for name in ("history", "service-level", "processing-time"):
        assert (await cell.control.get(f"/api/v1/reports/{name}")).status_code == 401
    admin = await cell.login()
    backwards = await cell.control.get(
        "/api/v1/reports/history",
        params={"since": PERIOD["until"], "until": PERIOD["since"]},
        headers=admin,
    )
    assert backwards.status_code == 400
    week = await cell.control.get(
        "/api/v1/reports/history", params={"interval": "week"}, headers=admin
    )
    assert week.status_code == 400
