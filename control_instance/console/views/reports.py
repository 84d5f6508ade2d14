"""Console section: reports on the archived events, with server-rendered SVG charts and CSV links.

The three reports are the API's (``control_instance/reports/service.py``) with the same filters
(``provide_filter`` of the API route reads the period and its defaults); the CSV links point at
the API, which a console session may read.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from control_instance.console.deps import ViewerUser
from control_instance.console.rendering import page
from control_instance.console.views._ops_forms import optional_int, optional_time
from control_instance.console.views.events import CHANNELS
from control_instance.deps import StateDep
from control_instance.reports import service
from control_instance.reports.periods import Interval, period_bounds
from control_instance.reports.schemas import ReportFilter
from control_instance.routes.reports import provide_filter
from control_instance.state import ControlState
from services.errors import InvalidRequest, McsimError

__all__ = ["Bar", "Chart", "bar_chart", "router"]

router = APIRouter(include_in_schema=False)

_WIDTH, _HEIGHT, _LEFT, _BOTTOM, _TOP = 640, 200, 44, 28, 12


@dataclass(frozen=True)
class Bar:
    """One bar of a chart, in SVG user units."""

    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Chart:
    """A bar chart ready to be drawn: bars, period labels, the top of the scale."""

    label: str
    width: int
    height: int
    bars: list[Bar]
    labels: list[tuple[float, str]]
    top: float
    legend: list[tuple[str, str]]
    baseline: float


def bar_chart(
    label: str, periods: Sequence[str], series: Sequence[tuple[str, str, Sequence[float]]]
) -> Chart:
    """Lay out grouped bars: one group per period, one bar per series (name, css, values)."""
    highest = max((v for _, _, values in series for v in values), default=0.0)
    top = highest if highest > 0 else 1.0
    plot_w = _WIDTH - _LEFT - 8
    plot_h = _HEIGHT - _BOTTOM - _TOP
    group = plot_w / max(len(periods), 1)
    bar_w = min(max(group * 0.8 / max(len(series), 1), 1.0), 36.0)
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    # Every step-th period is named under the axis, so that the names (10px text) never overlap.
    widest = max((len(period) for period in periods), default=1) * 6.0 + 8.0
    step = max(1, math.ceil(widest / group))
    for index, period in enumerate(periods):
        start = _LEFT + index * group + (group - bar_w * len(series)) / 2
        for number, (name, css, values) in enumerate(series):
            value = values[index]
            height = plot_h * value / top
            bars.append(
                Bar(
                    x=round(start + number * bar_w, 2),
                    y=round(_TOP + plot_h - height, 2),
                    width=round(bar_w, 2),
                    height=round(height, 2),
                    css=css,
                    title=f"{period} · {name}: {value:g}",
                )
            )
        if index % step == 0:
            labels.append((round(start, 2), period))
    return Chart(
        label=label,
        width=_WIDTH,
        height=_HEIGHT,
        bars=bars,
        labels=labels,
        top=top,
        legend=[(name, css) for name, css, _ in series],
        baseline=_TOP + plot_h,
    )


_KEY_FORMATS = {Interval.HOUR: "%Y-%m-%dT%H:00", Interval.DAY: "%Y-%m-%d", Interval.MONTH: "%Y-%m"}
_MOST_PERIODS = 400


def _periods(where: ReportFilter, found: Sequence[str]) -> list[str]:
    """Return every period of the report in order (empty ones too), or those found if too many."""
    interval = Interval(where.interval)
    keys: list[str] = []
    start = where.since
    while start < where.until and len(keys) <= _MOST_PERIODS:
        key = start.strftime(_KEY_FORMATS[interval])
        keys.append(key)
        start = period_bounds(key, interval)[1]
    if len(keys) > _MOST_PERIODS or not set(found) <= set(keys):
        return sorted(set(found))
    return keys


def _filter(values: dict[str, str]) -> ReportFilter:
    try:
        interval = Interval(values["interval"] or Interval.DAY.value)
    except ValueError:
        raise InvalidRequest("Choose hour, day or month.", field="interval") from None
    since = optional_time(values["since"], "since")
    until = optional_time(values["until"], "until")
    if since is not None and until is not None and since >= until:
        raise InvalidRequest("Choose a start before the end (Before).", field="since")
    return provide_filter(
        since=since,
        until=until,
        interval=interval,
        channel=optional_int(values["channel"], "channel", high=255),
        instance=optional_int(values["instance"], "instance", low=1, high=255),
    )


_NAMES = ("since", "until", "interval", "channel", "instance")


def _csv_query(where: ReportFilter) -> str:
    query: dict[str, str] = {
        "format": "csv",
        "since": where.since.isoformat(),
        "until": where.until.isoformat(),
        "interval": where.interval,
    }
    if where.channel is not None:
        query["channel"] = str(where.channel)
    if where.instance is not None:
        query["instance"] = str(where.instance)
    return urlencode(query)


def _get(rows: dict[str, Any], period: str, name: str) -> float:
    row = rows.get(period)
    value = getattr(row, name) if row is not None else None
    return float(value or 0.0)


def _reports(state: ControlState, where: ReportFilter) -> dict[str, Any]:
    db = state.db
    history = service.history_report(db=db, where=where)
    level = service.service_level_report(db=db, where=where)
    timing = service.processing_time_report(db=db, where=where)
    by_period: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in history.rows:
        by_period[row.period][0] += row.events
        by_period[row.period][1] += row.sent
        by_type[row.event_type][0] += row.events
        by_type[row.event_type][1] += row.sent
    periods = _periods(where, list(by_period))
    levels = {row.period: row for row in level.rows}
    timings = {row.period: row for row in timing.rows}
    every = _periods(where, [*levels, *timings])
    charts = {
        "history": bar_chart(
            "Events and messages sent per period",
            periods,
            [
                ("events", "bar", [float(by_period.get(p, [0, 0])[0]) for p in periods]),
                ("sent", "bar2", [float(by_period.get(p, [0, 0])[1]) for p in periods]),
            ],
        ),
        "level": bar_chart(
            "Incoming events and outgoing messages per period",
            every,
            [
                ("incoming", "bar", [float(_get(levels, p, "incoming_events")) for p in every]),
                ("outgoing", "bar2", [float(_get(levels, p, "outgoing_messages")) for p in every]),
            ],
        ),
        "timing": bar_chart(
            "Average queuing and processing time (s) per period",
            every,
            [
                ("queuing", "bar", [_get(timings, p, "avg_queuing_seconds") for p in every]),
                ("processing", "bar2", [_get(timings, p, "avg_processing_seconds") for p in every]),
            ],
        ),
    }
    return {
        "history": history,
        "level": level,
        "timing": timing,
        "by_type": dict(sorted(by_type.items())),
        "charts": charts,
        "csv": _csv_query(where),
    }


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Show event history by type x period, service level and processing time, with charts."""
    values = {name: (request.query_params.get(name) or "").strip() for name in _NAMES}
    # What was typed stays in the form, and an error is shown next to its field.
    context: dict[str, Any] = {"report_error": None, "values": values, "errors": {}}
    try:
        where = _filter(values)
    except McsimError as exc:
        context["report_error"] = exc
        context["errors"] = {exc.field or "": exc.message}
    else:
        context.update(await run_in_threadpool(_reports, state, where))
        context["where"] = where
    return page(
        request,
        "reports.html",
        user,
        active="/reports",
        channels=CHANNELS,
        intervals=[i.value for i in Interval],
        **context,
    )
