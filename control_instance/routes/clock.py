"""The cell's virtual clock (issue 16): ``GET /api/v1/clock`` (any operator) and ``POST
/api/v1/clock`` (admin; refused in production), which moves every service at once."""

from __future__ import annotations

from fastapi import APIRouter

from control_instance.clock import service
from control_instance.clock.service import CellClock
from control_instance.deps import AdminDep, StateDep, ViewerDep
from services.clock import ClockChange

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["testing"])


@router.get("/clock", response_model=CellClock, response_model_by_alias=True)
async def read_clock(_: ViewerDep, state: StateDep) -> CellClock:
    """The cell's clock, and whether every service runs the same offset."""
    return await service.read_cell_clock(state=state)


@router.post("/clock", response_model=CellClock, response_model_by_alias=True)
async def move_clock(change: ClockChange, _: AdminDep, state: StateDep) -> CellClock:
    """Move the clock of every service: ``{"advance": "2h"}``, ``{"to": "2027-01-01T08:00Z"}``,
    ``{"offsetSeconds": 7200}`` or ``{"reset": true}``. Scheduled events become due,
    expirations and validity pass, retries and quarantines end, sessions and tokens expire,
    purges run, as if that much time had gone by."""
    return await service.move_cell_clock(state=state, change=change)
