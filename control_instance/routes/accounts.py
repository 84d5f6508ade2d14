"""Execution instances as external accounts (``/api/v1/execution-instances``), admin only."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from control_instance.accounts import service
from control_instance.accounts.schemas import (
    AccountCreate,
    AccountPublic,
    AccountUpdate,
    ConnectionTest,
)
from control_instance.deps import AdminDep, StateDep, ViewerDep
from control_instance.pagination import Page, PageDep, RowId
from control_instance.sync import SyncOutcome, sync_instances

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/execution-instances", tags=["execution instances"])


@router.get("", response_model=Page[AccountPublic])
async def list_accounts(_: ViewerDep, state: StateDep, page: PageDep) -> Page[AccountPublic]:
    """List the execution-instance accounts (passwords are never returned)."""
    return await run_in_threadpool(lambda: service.list_accounts(db=state.db, page=page))


@router.post("", response_model=AccountPublic, status_code=201)
async def create_account(body: AccountCreate, _: AdminDep, state: StateDep) -> AccountPublic:
    """Add an execution instance; then test it, initialize it and sync it."""
    return await run_in_threadpool(lambda: service.create_account(state=state, new=body))


@router.post("/sync", response_model=list[SyncOutcome])
async def sync_all(_: AdminDep, state: StateDep) -> list[SyncOutcome]:
    """Bring every enabled execution instance up to date."""
    return await sync_instances(state=state)


@router.get("/{account_id}", response_model=AccountPublic)
async def get_account(account_id: RowId, _: ViewerDep, state: StateDep) -> AccountPublic:
    """Return one account."""
    return await run_in_threadpool(lambda: service.get_account(db=state.db, account_id=account_id))


@router.patch("/{account_id}", response_model=AccountPublic)
async def update_account(
    account_id: RowId, body: AccountUpdate, _: AdminDep, state: StateDep
) -> AccountPublic:
    """Change an account: label, URL, login, password, enabled."""
    return await run_in_threadpool(
        lambda: service.update_account(state=state, account_id=account_id, changes=body)
    )


@router.delete("/{account_id}", status_code=204, response_class=Response)
async def delete_account(account_id: RowId, _: AdminDep, state: StateDep) -> Response:
    """Delete an account."""
    await run_in_threadpool(lambda: service.delete_account(db=state.db, account_id=account_id))
    return Response(status_code=204)


@router.post("/{account_id}/test", response_model=ConnectionTest)
async def check_connection(account_id: RowId, _: AdminDep, state: StateDep) -> ConnectionTest:
    """Test the connection: call the instance's /_mc/info with the account."""
    return await service.test_connection(state=state, account_id=account_id)


@router.post("/{account_id}/initialize", response_model=AccountPublic)
async def initialize_connection(account_id: RowId, _: AdminDep, state: StateDep) -> AccountPublic:
    """Initialize the connection: record the instance's id (unique among the accounts)."""
    return await service.initialize_connection(state=state, account_id=account_id)


@router.post("/{account_id}/sync", response_model=SyncOutcome)
async def sync_one(account_id: RowId, _: AdminDep, state: StateDep) -> SyncOutcome:
    """Bring one execution instance up to date (enabled or not)."""
    (outcome,) = await sync_instances(state=state, account_id=account_id)
    return outcome
