"""Operators of the control instance (admin only)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from control_instance.auth import service
from control_instance.auth.schemas import OperatorCreate, OperatorPublic, OperatorUpdate
from control_instance.deps import AdminDep, StateDep
from control_instance.pagination import Page, PageDep, RowId

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/operators", tags=["operators"])


@router.get("", response_model=Page[OperatorPublic])
async def list_operators(_: AdminDep, state: StateDep, page: PageDep) -> Page[OperatorPublic]:
    """List the operators."""
    return await run_in_threadpool(lambda: service.list_operators(db=state.db, page=page))


@router.post("", response_model=OperatorPublic, status_code=201)
async def create_operator(body: OperatorCreate, _: AdminDep, state: StateDep) -> OperatorPublic:
    """Create an operator with a role (admin, editor or viewer)."""
    return await run_in_threadpool(lambda: service.create_operator(db=state.db, new=body))


@router.get("/{operator_id}", response_model=OperatorPublic)
async def get_operator(operator_id: RowId, _: AdminDep, state: StateDep) -> OperatorPublic:
    """Return one operator."""
    return await run_in_threadpool(
        lambda: service.get_operator(db=state.db, operator_id=operator_id)
    )


@router.patch("/{operator_id}", response_model=OperatorPublic)
async def update_operator(
    operator_id: RowId, body: OperatorUpdate, actor: AdminDep, state: StateDep
) -> OperatorPublic:
    """Change an operator's name, role, password or disabled flag."""
    return await run_in_threadpool(
        lambda: service.update_operator(
            db=state.db, operator_id=operator_id, changes=body, actor=actor
        )
    )


@router.delete("/{operator_id}", status_code=204, response_class=Response)
async def delete_operator(operator_id: RowId, actor: AdminDep, state: StateDep) -> Response:
    """Delete an operator."""
    await run_in_threadpool(
        lambda: service.delete_operator(db=state.db, operator_id=operator_id, actor=actor)
    )
    return Response(status_code=204)
