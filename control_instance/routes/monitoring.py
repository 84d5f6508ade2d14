"""Monitoring of the execution cell (``GET /api/v1/monitoring``)."""

from __future__ import annotations

from fastapi import APIRouter

from control_instance.deps import StateDep, ViewerDep
from control_instance.monitoring.schemas import Monitoring
from control_instance.monitoring.service import read_monitoring

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])


@router.get("", response_model=Monitoring)
async def monitoring(_: ViewerDep, state: StateDep) -> Monitoring:
    """Return each instance's health and indicators against the thresholds, and the balancer."""
    return await read_monitoring(state=state)
