"""Console section: operators (admin only), through the same use cases as ``/api/v1/operators``.

The service keeps one enabled admin and refuses that an operator disables or deletes itself;
those refusals arrive here as McsimError and are shown by the console's error hook.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from control_instance.auth import service
from control_instance.auth.roles import Role
from control_instance.auth.schemas import OperatorCreate, OperatorPublic, OperatorUpdate
from control_instance.console.deps import AdminUser
from control_instance.console.rendering import page
from control_instance.console.views._ops_forms import answer_change, validated
from control_instance.deps import StateDep
from control_instance.pagination import PageParams, RowId
from control_instance.state import ControlState

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_ALL = PageParams(limit=500, offset=0)

FormText = Annotated[str, Form()]


async def _operators(state: ControlState) -> list[OperatorPublic]:
    return (await run_in_threadpool(lambda: service.list_operators(db=state.db, page=_ALL))).items


async def _table(
    request: Request, state: ControlState, user: AdminUser, message: str, **extra: Any
) -> Response:
    return answer_change(
        request,
        user,
        fragment="_ops_operators_table.html",
        message=message,
        back="/operators",
        operators=await _operators(state),
        roles=list(Role),
        **extra,
    )


@router.get("/operators", response_class=HTMLResponse)
async def list_operators(request: Request, state: StateDep, user: AdminUser) -> HTMLResponse:
    """Show the operators and the form to add one."""
    return page(
        request,
        "operators.html",
        user,
        active="/operators",
        operators=await _operators(state),
        roles=list(Role),
    )


@router.post("/operators", response_model=None)
async def create_operator(
    request: Request,
    state: StateDep,
    user: AdminUser,
    login: FormText = "",
    name: FormText = "",
    role: FormText = "",
    password: FormText = "",
) -> Response:
    """Add an operator with a role."""
    new = validated(
        OperatorCreate,
        {"login": login.strip(), "name": name.strip(), "role": role, "password": password},
    )
    created = await run_in_threadpool(lambda: service.create_operator(db=state.db, new=new))
    message = f"Operator {created.login} added as {created.role.value}."
    return await _table(request, state, user, message)


async def _update(
    request: Request,
    state: ControlState,
    user: AdminUser,
    operator_id: int,
    changes: OperatorUpdate,
    message: str,
) -> Response:
    changed = await run_in_threadpool(
        lambda: service.update_operator(
            db=state.db, operator_id=operator_id, changes=changes, actor=user.principal
        )
    )
    return await _table(request, state, user, message.format(login=changed.login, op=changed))


@router.post("/operators/{operator_id}/role", response_model=None)
async def change_role(
    operator_id: RowId, request: Request, state: StateDep, user: AdminUser, role: FormText = ""
) -> Response:
    """Give an operator another role."""
    changes = validated(OperatorUpdate, {"role": role})
    return await _update(
        request, state, user, operator_id, changes, "{login} is now {op.role.value}."
    )


@router.post("/operators/{operator_id}/disable", response_model=None)
async def disable_operator(
    operator_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Disable an operator: it can no longer log in."""
    changes = OperatorUpdate(disabled=True)
    return await _update(request, state, user, operator_id, changes, "{login} is disabled.")


@router.post("/operators/{operator_id}/enable", response_model=None)
async def enable_operator(
    operator_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Enable an operator again."""
    changes = OperatorUpdate(disabled=False)
    return await _update(request, state, user, operator_id, changes, "{login} is enabled.")


@router.post("/operators/{operator_id}/password", response_model=None)
async def reset_password(
    operator_id: RowId, request: Request, state: StateDep, user: AdminUser, password: FormText = ""
) -> Response:
    """Set a new password; the operator's sessions and tokens end."""
    changes = validated(OperatorUpdate, {"password": password})
    return await _update(
        request,
        state,
        user,
        operator_id,
        changes,
        "{login}'s password is reset; its sessions and tokens have ended.",
    )


@router.post("/operators/{operator_id}/delete", response_model=None)
async def delete_operator(
    operator_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Delete an operator (not oneself, not the last admin)."""
    gone = await run_in_threadpool(
        lambda: service.get_operator(db=state.db, operator_id=operator_id)
    )
    await run_in_threadpool(
        lambda: service.delete_operator(db=state.db, operator_id=operator_id, actor=user.principal)
    )
    return await _table(request, state, user, f"Operator {gone.login} deleted.")
