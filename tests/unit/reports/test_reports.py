"""Report arithmetic, period bounds, CSV rendering and monitoring thresholds (no I/O)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from control_instance.monitoring.schemas import Level
from control_instance.monitoring.thresholds import Threshold, evaluate, thresholds_from, worst
from control_instance.reports.csv_export import to_csv
from control_instance.reports.periods import Interval, hours_in, period_bounds
from control_instance.reports.schemas import ReportFilter, ServiceLevelRow
from control_instance.reports.service import Cell, build_processing_time, build_service_level
from control_instance.settings import ControlSettings

SINCE = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = datetime(2026, 3, 2, 12, tzinfo=UTC)
WHERE = ReportFilter(since=SINCE, until=UNTIL, interval="day")


def test_period_bounds_of_each_interval() -> None:
    assert period_bounds("2026-03-01T05:00", Interval.HOUR) == (
        datetime(2026, 3, 1, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 6, tzinfo=UTC),
    )
    assert period_bounds("2026-12", Interval.MONTH) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    start, end = period_bounds("2026-03-02", Interval.DAY)
    assert hours_in(start, end, SINCE, UNTIL) == 12.0  # clipped to the report's end


def test_service_level_per_period_and_in_all() -> None:
    cells = [
        Cell("2026-03-01", 2, 6, sending_sum=12.0, sending_n=6),
        Cell("2026-03-01", 5, 2),
        Cell("2026-03-02", 4, 1),
        Cell("2026-03-02", 0, 3),
    ]
    report = build_service_level(cells, WHERE)
    day1, day2 = report.rows
    assert (day1.incoming_events, day1.incoming_per_hour) == (8, round(8 / 24, 3))
    assert (day1.outgoing_messages, day1.avg_sending_seconds) == (6, 2.0)
    assert (day1.errors, day1.error_rate, day1.routing_errors) == (2, 25.0, 2)
    assert (day2.incoming_per_hour, day2.finished, day2.error_rate) == (round(4 / 12, 3), 1, 100.0)
    total = report.total
    assert (total.incoming_events, total.finished, total.errors) == (12, 9, 3)
    assert total.incoming_per_hour == round(12 / 36, 3)


def test_processing_time_weights_every_event_equally() -> None:
    cells = [
        Cell("2026-03-01", 2, 1, queuing_sum=1.0, queuing_n=1, processing_sum=3, processing_n=1),
        Cell("2026-03-01", 2, 3, queuing_sum=9.0, queuing_n=3, processing_sum=9, processing_n=3),
        Cell("2026-03-02", 5, 2),
    ]
    report = build_processing_time(cells, WHERE)
    assert report.total.avg_queuing_seconds == 2.5
    assert report.total.avg_processing_seconds == 3.0
    assert report.total.avg_sending_seconds is None
    assert report.rows[1].avg_queuing_seconds is None


def test_csv_has_a_header_and_empty_cells_for_missing_values() -> None:
    report = build_service_level([Cell("2026-03-01", 5, 1)], WHERE)
    text = to_csv([*report.rows, report.total], list(ServiceLevelRow.model_fields))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["period"] for row in rows] == ["2026-03-01", "total"]
    assert rows[0]["avg_sending_seconds"] == ""
    assert rows[1]["routing_errors"] == "1"


@pytest.mark.parametrize(
    ("value", "level"),
    [(99, Level.OK), (100, Level.WARNING), (399, Level.WARNING), (400, Level.ALERT)],
)
def test_higher_is_worse_thresholds(value: float, level: Level) -> None:
    assert Threshold("q", "q", 100, 400).level(value) is level


@pytest.mark.parametrize(
    ("value", "level"),
    [(20000, Level.OK), (18000, Level.WARNING), (15001, Level.WARNING), (15000, Level.ALERT)],
)
def test_lower_is_worse_thresholds(value: float, level: Level) -> None:
    assert Threshold("t", "t", 18000, 15000, higher_is_worse=False).level(value) is level


def test_campaign_defaults_judge_an_instance() -> None:
    thresholds = thresholds_from(ControlSettings())
    stats = {
        "pending": {"rt": 90, "batch": 20},
        "error_rate": 0.5,
        "messages_out_per_hour": 20000.0,
        "avg_queuing_seconds": 9.0,
        "avg_sending_seconds": None,
        "avg_processing_seconds": 10.0,
    }
    levels = {check.indicator: check.level for check in evaluate(stats, thresholds)}
    assert levels == {
        "pending_events": Level.WARNING,  # 110 >= 100
        "error_rate": Level.OK,
        "outgoing_throughput": Level.OK,
        "avg_queuing_seconds": Level.ALERT,  # 9 >= 8
        "avg_sending_seconds": Level.OK,  # no message sent: nothing to judge
        "avg_processing_seconds": Level.WARNING,
    }
    assert worst(list(levels.values())) is Level.ALERT
    assert worst([]) is Level.OK
