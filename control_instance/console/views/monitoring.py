"""Console section: monitoring of the execution cell, refreshed every few seconds by htmx.

Both the page and its fragments call the API's use case (:func:`read_monitoring`): each enabled
instance's ``/_mc/stats`` against Campaign's thresholds, and the load balancer's backends.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from control_instance.console.deps import ViewerUser
from control_instance.console.rendering import page
from control_instance.deps import StateDep
from control_instance.monitoring.service import read_monitoring

__all__ = ["REFRESH_SECONDS", "router"]

router = APIRouter(include_in_schema=False)

#: How often the monitoring page asks for fresh figures.
REFRESH_SECONDS = 5


@router.get("/monitoring", response_class=HTMLResponse)
async def monitoring_page(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Show every instance's health and indicators against the thresholds, and the balancer."""
    found = await read_monitoring(state=state)
    return page(
        request,
        "monitoring.html",
        user,
        active="/monitoring",
        monitoring=found,
        refresh=REFRESH_SECONDS,
    )


@router.get("/monitoring/live", response_class=HTMLResponse)
async def monitoring_live(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Return the monitoring figures alone (the page swaps them in every few seconds)."""
    found = await read_monitoring(state=state)
    return page(request, "_ops_monitoring.html", user, monitoring=found)


@router.get("/monitoring/summary", response_class=HTMLResponse)
async def monitoring_summary(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Return a compact health line per instance (for the dashboard and the instances page)."""
    found = await read_monitoring(state=state)
    return page(request, "_ops_monitoring_summary.html", user, monitoring=found)
