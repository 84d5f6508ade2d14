"""The balancer's own monitoring: ``GET /_lb/status`` and ``GET /metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from load_balancer.deps import RuntimeDep
from load_balancer.report import prometheus_text, status_report

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])


@router.get("/_lb/status")
async def lb_status(runtime: RuntimeDep) -> dict[str, Any]:
    """Report every backend (state, instance id, in flight, requests, errors, latency)."""
    assert runtime.shared is not None
    return status_report(runtime.shared)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(runtime: RuntimeDep) -> PlainTextResponse:
    """Expose the balancer's counters in the Prometheus text format."""
    assert runtime.shared is not None
    return PlainTextResponse(
        prometheus_text(runtime.shared), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
