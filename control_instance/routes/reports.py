"""Reports on the archived events (``/api/v1/reports/...``), as JSON or CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from starlette.concurrency import run_in_threadpool

from control_instance.deps import StateDep, ViewerDep
from control_instance.reports import service
from control_instance.reports.csv_export import to_csv
from control_instance.reports.periods import Interval
from control_instance.reports.schemas import (
    HistoryReport,
    HistoryRow,
    ProcessingTimeReport,
    ProcessingTimeRow,
    ReportFilter,
    ServiceLevelReport,
    ServiceLevelRow,
)
from services.clock import utc_now
from services.errors import InvalidRequest

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Format = Annotated[Literal["json", "csv"], Query(description="json (default) or csv.")]


def provide_filter(
    since: Annotated[
        datetime | None, Query(description="Events received at or after (default: 7 days ago).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Events received before (default: now).")
    ] = None,
    interval: Annotated[Interval, Query(description="hour, day or month.")] = Interval.DAY,
    channel: Annotated[int | None, Query(description="0 email, 1 SMS, 41 iOS, 42 Android")] = None,
    instance: Annotated[int | None, Query(ge=1, le=255, description="Instance id.")] = None,
) -> ReportFilter:
    """Read a report's period and filters."""
    until = (until or utc_now()).astimezone(UTC)
    since = (since or until - timedelta(days=7)).astimezone(UTC)
    if since >= until:
        raise InvalidRequest("since must be before until", field="since")
    return ReportFilter(
        since=since, until=until, interval=interval.value, channel=channel, instance=instance
    )


FilterDep = Annotated[ReportFilter, Depends(provide_filter)]


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}.csv"'},
    )


@router.get("/history", response_model=HistoryReport)
async def history(
    _: ViewerDep, state: StateDep, where: FilterDep, format: Format = "json"
) -> HistoryReport | Response:
    """Return events and sent messages by event type x period."""
    report = await run_in_threadpool(lambda: service.history_report(db=state.db, where=where))
    if format == "csv":
        return _csv(to_csv(report.rows, list(HistoryRow.model_fields)), "event-history")
    return report


@router.get("/service-level", response_model=ServiceLevelReport)
async def service_level(
    _: ViewerDep, state: StateDep, where: FilterDep, format: Format = "json"
) -> ServiceLevelReport | Response:
    """Return throughput, average sending time and error rate by cause, by period and in all."""
    report = await run_in_threadpool(lambda: service.service_level_report(db=state.db, where=where))
    if format == "csv":
        rows = [*report.rows, report.total]
        return _csv(to_csv(rows, list(ServiceLevelRow.model_fields)), "service-level")
    return report


@router.get("/processing-time", response_model=ProcessingTimeReport)
async def processing_time(
    _: ViewerDep, state: StateDep, where: FilterDep, format: Format = "json"
) -> ProcessingTimeReport | Response:
    """Return average queuing, sending and processing times, by period and in all."""
    report = await run_in_threadpool(
        lambda: service.processing_time_report(db=state.db, where=where)
    )
    if format == "csv":
        rows = [*report.rows, report.total]
        return _csv(to_csv(rows, list(ProcessingTimeRow.model_fields)), "processing-time")
    return report
