"""Use cases of the reports, computed from the archived events (campaign-facts §4.7).

Every report covers the events *received* in ``[since, until)`` (optionally of one channel and
one instance), grouped by the period of their reception. Errors are Campaign's service-level
causes: routing error, expired event, delivery error, ignored by the delivery.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select

from control_instance.reports.periods import (
    Interval,
    hours_in,
    period_bounds,
    period_key,
    seconds_between,
)
from control_instance.reports.schemas import (
    HistoryReport,
    HistoryRow,
    ProcessingTimeReport,
    ProcessingTimeRow,
    ReportFilter,
    ServiceLevelReport,
    ServiceLevelRow,
)
from control_instance.tables import ArchivedEvent
from services.db import Database

__all__ = [
    "Cell",
    "build_processing_time",
    "build_service_level",
    "history_report",
    "processing_time_report",
    "service_level_report",
]

SENT = 2
IGNORED, DELIVERY_FAILED, ROUTING_FAILED, TOO_OLD = 3, 4, 5, 6
FINAL = (SENT, IGNORED, DELIVERY_FAILED, ROUTING_FAILED, TOO_OLD)


@dataclass(frozen=True)
class Cell:
    """Aggregates of the events of one period in one status."""

    period: str
    status: int
    count: int
    sending_sum: float = 0.0
    sending_n: int = 0
    queuing_sum: float = 0.0
    queuing_n: int = 0
    processing_sum: float = 0.0
    processing_n: int = 0


def _conditions(where: ReportFilter) -> list[ColumnElement[bool]]:
    conditions = [ArchivedEvent.created_at >= where.since, ArchivedEvent.created_at < where.until]
    if where.channel is not None:
        conditions.append(ArchivedEvent.channel == where.channel)
    if where.instance is not None:
        conditions.append(ArchivedEvent.instance_id == where.instance)
    return conditions


def history_report(*, db: Database, where: ReportFilter) -> HistoryReport:
    """Return events and sent messages by event type x period."""
    interval = Interval(where.interval)
    period = period_key(ArchivedEvent.created_at, interval, postgres=db.is_postgres)
    statement = (
        select(
            period,
            ArchivedEvent.event_type,
            func.count(),
            func.sum(case((ArchivedEvent.status == SENT, 1), else_=0)),
        )
        .where(*_conditions(where))
        .group_by(period, ArchivedEvent.event_type)
    )
    with db.transaction() as session:
        rows = [
            HistoryRow(period=str(p), event_type=str(t), events=int(n), sent=int(s or 0))
            for p, t, n, s in session.execute(statement).all()
        ]
    rows.sort(key=lambda row: (row.period, row.event_type))
    return HistoryReport(
        filter=where,
        rows=rows,
        events=sum(row.events for row in rows),
        sent=sum(row.sent for row in rows),
    )


def _cells(db: Database, where: ReportFilter) -> list[Cell]:
    postgres = db.is_postgres
    event = ArchivedEvent
    period = period_key(event.created_at, Interval(where.interval), postgres=postgres)
    sent = and_(
        event.status == SENT, event.processing_at.is_not(None), event.processed_at.is_not(None)
    )
    done = and_(event.status == SENT, event.processed_at.is_not(None))
    sending = case(
        (sent, seconds_between(event.processed_at, event.processing_at, postgres=postgres))
    )
    queuing = case(
        (
            event.processing_at.is_not(None),
            seconds_between(event.processing_at, event.created_at, postgres=postgres),
        )
    )
    processing = case(
        (done, seconds_between(event.processed_at, event.created_at, postgres=postgres))
    )
    statement = (
        select(
            period,
            event.status,
            func.count(),
            func.sum(sending),
            func.count(sending),
            func.sum(queuing),
            func.count(queuing),
            func.sum(processing),
            func.count(processing),
        )
        .where(*_conditions(where))
        .group_by(period, event.status)
    )
    with db.transaction() as session:
        found: list[Any] = list(session.execute(statement).all())
        return [
            Cell(
                period=str(row[0]),
                status=int(row[1]),
                count=int(row[2]),
                sending_sum=float(row[3] or 0),
                sending_n=int(row[4]),
                queuing_sum=float(row[5] or 0),
                queuing_n=int(row[6]),
                processing_sum=float(row[7] or 0),
                processing_n=int(row[8]),
            )
            for row in found
        ]


def _by_period(cells: Iterable[Cell]) -> dict[str, list[Cell]]:
    grouped: dict[str, list[Cell]] = defaultdict(list)
    for cell in cells:
        grouped[cell.period].append(cell)
    return dict(sorted(grouped.items()))


def _average(total: float, count: int) -> float | None:
    return round(total / count, 3) if count else None


def _service_row(period: str, cells: list[Cell], hours: float) -> ServiceLevelRow:
    by_status: dict[int, int] = defaultdict(int)
    for cell in cells:
        by_status[cell.status] += cell.count
    incoming = sum(by_status.values())
    outgoing = by_status[SENT]
    finished = sum(by_status[status] for status in FINAL)
    errors = finished - outgoing
    return ServiceLevelRow(
        period=period,
        incoming_events=incoming,
        incoming_per_hour=round(incoming / hours, 3) if hours else 0.0,
        outgoing_messages=outgoing,
        outgoing_per_hour=round(outgoing / hours, 3) if hours else 0.0,
        avg_sending_seconds=_average(
            sum(c.sending_sum for c in cells), sum(c.sending_n for c in cells)
        ),
        finished=finished,
        errors=errors,
        error_rate=round(100.0 * errors / finished, 3) if finished else 0.0,
        routing_errors=by_status[ROUTING_FAILED],
        expired=by_status[TOO_OLD],
        delivery_errors=by_status[DELIVERY_FAILED],
        ignored=by_status[IGNORED],
    )


def build_service_level(cells: list[Cell], where: ReportFilter) -> ServiceLevelReport:
    """Return the service level of each period and of the whole report from aggregates."""
    interval = Interval(where.interval)
    rows = []
    for period, group in _by_period(cells).items():
        start, end = period_bounds(period, interval)
        rows.append(_service_row(period, group, hours_in(start, end, where.since, where.until)))
    total_hours = (where.until - where.since).total_seconds() / 3600
    return ServiceLevelReport(
        filter=where, total=_service_row("total", cells, total_hours), rows=rows
    )


def _time_row(period: str, cells: list[Cell]) -> ProcessingTimeRow:
    return ProcessingTimeRow(
        period=period,
        events=sum(c.count for c in cells),
        avg_queuing_seconds=_average(
            sum(c.queuing_sum for c in cells), sum(c.queuing_n for c in cells)
        ),
        avg_sending_seconds=_average(
            sum(c.sending_sum for c in cells), sum(c.sending_n for c in cells)
        ),
        avg_processing_seconds=_average(
            sum(c.processing_sum for c in cells), sum(c.processing_n for c in cells)
        ),
    )


def build_processing_time(cells: list[Cell], where: ReportFilter) -> ProcessingTimeReport:
    """Return the average times of each period and of the whole report from aggregates."""
    rows = [_time_row(period, group) for period, group in _by_period(cells).items()]
    return ProcessingTimeReport(filter=where, total=_time_row("total", cells), rows=rows)


def service_level_report(*, db: Database, where: ReportFilter) -> ServiceLevelReport:
    """Return incoming and outgoing throughput, average sending time and errors by cause."""
    return build_service_level(_cells(db, where), where)


def processing_time_report(*, db: Database, where: ReportFilter) -> ProcessingTimeReport:
    """Return the average queuing, sending and processing times."""
    return build_processing_time(_cells(db, where), where)
