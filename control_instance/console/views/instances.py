"""Console section: execution instances as external accounts (list, change, test, initialize).

Everyone may read the list; only admins change accounts, as in the API
(``control_instance/routes/accounts.py``). The password is write-only: no page ever shows it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from control_instance.accounts import service
from control_instance.accounts.schemas import AccountCreate, AccountPublic, AccountUpdate
from control_instance.console.deps import AdminUser, ViewerUser
from control_instance.console.rendering import page
from control_instance.console.views._ops_forms import answer_change, blank, validated
from control_instance.deps import StateDep
from control_instance.pagination import PageParams, RowId
from control_instance.state import ControlState
from services.dev_credentials import CONTROL_PLANE

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_ALL = PageParams(limit=500, offset=0)

FormText = Annotated[str, Form()]


async def _accounts(state: ControlState) -> list[AccountPublic]:
    return (await run_in_threadpool(lambda: service.list_accounts(db=state.db, page=_ALL))).items


async def _table(
    request: Request, state: StateDep, user: AdminUser, message: str, kind: str = "ok", **extra: Any
) -> Response:
    return answer_change(
        request,
        user,
        fragment="_ops_instances_table.html",
        message=message,
        kind=kind,
        back="/instances",
        accounts=await _accounts(state),
        **extra,
    )


@router.get("/instances", response_class=HTMLResponse)
async def list_instances(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Show the execution instances, their last check and (lazily) their health."""
    return page(
        request, "instances.html", user, active="/instances", accounts=await _accounts(state)
    )


@router.post("/instances", response_model=None)
async def create_instance(
    request: Request,
    state: StateDep,
    user: AdminUser,
    name: FormText = "",
    label: FormText = "",
    url: FormText = "",
    login: FormText = CONTROL_PLANE[0],
    password: FormText = "",
    enabled: FormText = "",
) -> Response:
    """Add an execution-instance account."""
    new = validated(
        AccountCreate,
        {
            "name": name.strip(),
            "label": label.strip(),
            "url": url.strip(),
            "login": login.strip(),
            "password": password,
            "enabled": bool(enabled),
        },
    )
    created = await run_in_threadpool(lambda: service.create_account(state=state, new=new))
    return await _table(
        request,
        state,
        user,
        f"Execution instance {created.name} added: test it, then initialize the connection.",
    )


@router.get("/instances/{account_id}", response_class=HTMLResponse)
async def edit_instance(
    account_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> HTMLResponse:
    """Show an account's edit form (the password field is always empty)."""
    account = await run_in_threadpool(
        lambda: service.get_account(db=state.db, account_id=account_id)
    )
    return page(request, "instances_edit.html", user, active="/instances", account=account)


@router.post("/instances/{account_id}", response_model=None)
async def update_instance(
    account_id: RowId,
    request: Request,
    state: StateDep,
    user: AdminUser,
    label: FormText = "",
    url: FormText = "",
    login: FormText = "",
    password: FormText = "",
    enabled: FormText = "",
) -> Response:
    """Change an account; an empty password field keeps the stored password."""
    changes = validated(
        AccountUpdate,
        {
            "label": blank(label),
            "url": blank(url),
            "login": blank(login),
            "password": password or None,
            "enabled": bool(enabled),
        },
    )
    updated = await run_in_threadpool(
        lambda: service.update_account(state=state, account_id=account_id, changes=changes)
    )
    return await _table(request, state, user, f"Execution instance {updated.name} saved.")


@router.post("/instances/{account_id}/enable", response_model=None)
async def enable_instance(
    account_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Enable an account: it is published to, monitored and archived again."""
    return await _switch(request, state, user, account_id, enabled=True)


@router.post("/instances/{account_id}/disable", response_model=None)
async def disable_instance(
    account_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Disable an account: publishing, monitoring and archiving leave it alone."""
    return await _switch(request, state, user, account_id, enabled=False)


async def _switch(
    request: Request, state: ControlState, user: AdminUser, account_id: int, *, enabled: bool
) -> Response:
    changes = AccountUpdate(enabled=enabled)
    updated = await run_in_threadpool(
        lambda: service.update_account(state=state, account_id=account_id, changes=changes)
    )
    word = "enabled" if enabled else "disabled"
    return await _table(request, state, user, f"Execution instance {updated.name} {word}.")


@router.post("/instances/{account_id}/delete", response_model=None)
async def delete_instance(
    account_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Delete an account (what was published on the instance stays there)."""
    account = await run_in_threadpool(
        lambda: service.get_account(db=state.db, account_id=account_id)
    )
    await run_in_threadpool(lambda: service.delete_account(db=state.db, account_id=account_id))
    return await _table(request, state, user, f"Execution instance {account.name} deleted.")


@router.post("/instances/{account_id}/test", response_model=None)
async def test_instance(
    account_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Test the connection with the account and show what the instance answered."""
    outcome = await service.test_connection(state=state, account_id=account_id)
    account = await run_in_threadpool(
        lambda: service.get_account(db=state.db, account_id=account_id)
    )
    if outcome.ok:
        message = (
            f"{account.name}: connection OK — instance id {outcome.instance_id}, "
            f"mcsim {outcome.version}, {outcome.pending_events} pending events"
        )
        return await _table(request, state, user, message, outcome=outcome)
    message = f"{account.name}: connection failed — {outcome.error}"
    return await _table(request, state, user, message, kind="error", outcome=outcome)


@router.post("/instances/{account_id}/initialize", response_model=None)
async def initialize_instance(
    account_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Initialize the connection: record the instance's id."""
    account = await service.initialize_connection(state=state, account_id=account_id)
    message = f"{account.name}: connection initialized, instance id {account.instance_id}."
    return await _table(request, state, user, message)
