"""Operators and technical tokens of the execution cell, pushed to every instance (admin)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from control_instance.cell import service
from control_instance.cell.schemas import (
    CellOperatorChange,
    CellOperatorCreate,
    CellOperatorPublic,
    CellOperatorUpdate,
    TechnicalTokenChange,
    TechnicalTokenCreate,
    TechnicalTokenPublic,
)
from control_instance.deps import AdminDep, StateDep
from control_instance.pagination import Page, PageDep, RowId

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["execution cell security"])


@router.get("/execution-operators", response_model=Page[CellOperatorPublic])
async def list_cell_operators(
    _: AdminDep, state: StateDep, page: PageDep
) -> Page[CellOperatorPublic]:
    """List the operators pushed to the execution instances."""
    return await run_in_threadpool(lambda: service.list_cell_operators(db=state.db, page=page))


@router.post("/execution-operators", response_model=CellOperatorChange, status_code=201)
async def create_cell_operator(
    body: CellOperatorCreate, _: AdminDep, state: StateDep
) -> CellOperatorChange:
    """Create an execution operator (SOAP login/password) on every execution instance."""
    return await service.create_cell_operator(state=state, new=body)


@router.patch("/execution-operators/{operator_id}", response_model=CellOperatorChange)
async def update_cell_operator(
    operator_id: RowId, body: CellOperatorUpdate, _: AdminDep, state: StateDep
) -> CellOperatorChange:
    """Change an execution operator's label or password everywhere."""
    return await service.update_cell_operator(state=state, operator_id=operator_id, changes=body)


@router.delete("/execution-operators/{operator_id}", response_model=CellOperatorChange)
async def delete_cell_operator(
    operator_id: RowId, _: AdminDep, state: StateDep
) -> CellOperatorChange:
    """Delete an execution operator everywhere."""
    return await service.delete_cell_operator(state=state, operator_id=operator_id)


@router.get("/technical-tokens", response_model=Page[TechnicalTokenPublic])
async def list_technical_tokens(
    _: AdminDep, state: StateDep, page: PageDep
) -> Page[TechnicalTokenPublic]:
    """List the technical tokens (by their first characters)."""
    return await run_in_threadpool(lambda: service.list_technical_tokens(db=state.db, page=page))


@router.post("/technical-tokens", response_model=TechnicalTokenChange, status_code=201)
async def create_technical_token(
    body: TechnicalTokenCreate, _: AdminDep, state: StateDep
) -> TechnicalTokenChange:
    """Create a bearer technical token on every execution instance (shown once)."""
    return await service.create_technical_token(state=state, new=body)


@router.delete("/technical-tokens/{token_id}", response_model=TechnicalTokenChange)
async def delete_technical_token(
    token_id: RowId, _: AdminDep, state: StateDep
) -> TechnicalTokenChange:
    """Revoke a technical token everywhere."""
    return await service.delete_technical_token(state=state, token_id=token_id)
