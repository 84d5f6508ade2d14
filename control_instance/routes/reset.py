"""Reset the whole cell between tests: ``POST /api/v1/reset`` (admin; refused in production)."""

from __future__ import annotations

from fastapi import APIRouter

from control_instance.deps import AdminDep, StateDep
from control_instance.reset import service
from control_instance.reset.service import CellReset

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["testing"])


@router.post("/reset", response_model=CellReset)
async def reset_cell(_: AdminDep, state: StateDep) -> CellReset:
    """Forget every event, message, delivery log, quarantine, chaos and archived event of the
    cell; keep event types, templates, seeds, accounts, operators and tokens."""
    return await service.reset_cell(state=state)
