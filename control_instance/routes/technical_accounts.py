"""Technical accounts (OAuth server-to-server credentials), their client secrets, and the keys
that sign their access tokens (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from control_instance.deps import AdminDep, StateDep
from control_instance.ims import service
from control_instance.ims.keys import SigningKey
from control_instance.ims.schemas import (
    ClientSecretCreated,
    SigningKeyPublic,
    TechnicalAccountCreate,
    TechnicalAccountCreated,
    TechnicalAccountPublic,
    TechnicalAccountUpdate,
)
from control_instance.pagination import Page, PageDep, RowId

__all__ = ["keys_router", "router"]

router = APIRouter(prefix="/api/v1/technical-accounts", tags=["technical accounts (IMS)"])

SecretUuid = Annotated[str, Path(min_length=1, max_length=36)]


@router.get("", response_model=Page[TechnicalAccountPublic])
async def list_technical_accounts(
    _: AdminDep, state: StateDep, page: PageDep
) -> Page[TechnicalAccountPublic]:
    """List the technical accounts (never their secrets)."""
    return await run_in_threadpool(lambda: service.list_technical_accounts(db=state.db, page=page))


@router.post("", response_model=TechnicalAccountCreated, status_code=201)
async def create_technical_account(
    body: TechnicalAccountCreate, _: AdminDep, state: StateDep
) -> TechnicalAccountCreated:
    """Create a technical account; its client secret is shown this once."""
    instance = state.settings.campaign_instance
    return await run_in_threadpool(
        lambda: service.create_technical_account(db=state.db, new=body, campaign_instance=instance)
    )


@router.get("/{account_id}", response_model=TechnicalAccountPublic)
async def get_technical_account(
    account_id: RowId, _: AdminDep, state: StateDep
) -> TechnicalAccountPublic:
    """Return one technical account."""
    return await run_in_threadpool(
        lambda: service.get_technical_account(db=state.db, account_id=account_id)
    )


@router.patch("/{account_id}", response_model=TechnicalAccountPublic)
async def update_technical_account(
    account_id: RowId, body: TechnicalAccountUpdate, _: AdminDep, state: StateDep
) -> TechnicalAccountPublic:
    """Change a technical account's name, scopes or product profiles."""
    return await run_in_threadpool(
        lambda: service.update_technical_account(db=state.db, account_id=account_id, changes=body)
    )


@router.delete("/{account_id}", status_code=204)
async def delete_technical_account(account_id: RowId, _: AdminDep, state: StateDep) -> None:
    """Delete a technical account (its tokens already issued live until they expire)."""
    await run_in_threadpool(
        lambda: service.delete_technical_account(db=state.db, account_id=account_id)
    )


@router.post("/{account_id}/secrets", response_model=ClientSecretCreated, status_code=201)
async def add_client_secret(account_id: RowId, _: AdminDep, state: StateDep) -> ClientSecretCreated:
    """Add a client secret (rotation: add, move the integration, delete the old one)."""
    return await run_in_threadpool(
        lambda: service.add_client_secret(db=state.db, account_id=account_id)
    )


@router.delete("/{account_id}/secrets/{secret_uuid}", status_code=204)
async def delete_client_secret(
    account_id: RowId, secret_uuid: SecretUuid, _: AdminDep, state: StateDep
) -> None:
    """Delete a client secret (never the last one)."""
    await run_in_threadpool(
        lambda: service.delete_client_secret(
            db=state.db, account_id=account_id, secret_uuid=secret_uuid
        )
    )


keys_router = APIRouter(prefix="/api/v1/ims/signing-keys", tags=["technical accounts (IMS)"])

Kid = Annotated[str, Path(min_length=1, max_length=64)]


def _key(key: SigningKey) -> SigningKeyPublic:
    return SigningKeyPublic(kid=key.kid, created_at=key.created_at, signing=key.signing)


@keys_router.get("", response_model=list[SigningKeyPublic])
async def list_signing_keys(_: AdminDep, state: StateDep) -> list[SigningKeyPublic]:
    """List the keys published at /ims/keys, newest first."""
    keys = await run_in_threadpool(state.ims_keys.list_keys)
    return [_key(key) for key in keys]


@keys_router.post("", response_model=SigningKeyPublic, status_code=201)
async def rotate_signing_key(_: AdminDep, state: StateDep) -> SigningKeyPublic:
    """Make a new signing key; tokens signed by the older ones stay valid until retired."""
    return _key(await run_in_threadpool(state.ims_keys.rotate))


@keys_router.delete("/{kid}", status_code=204)
async def retire_signing_key(kid: Kid, _: AdminDep, state: StateDep) -> None:
    """Stop publishing an older key (never the one that signs)."""
    await run_in_threadpool(lambda: state.ims_keys.retire(kid))
