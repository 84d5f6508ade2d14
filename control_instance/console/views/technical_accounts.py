"""Console section: technical accounts of the IMS emulator (admin only), through the same use
cases as ``/api/v1/technical-accounts``.

A client secret is shown once, in the answer to the change that made it: to htmx as part of the
fragment, to a plain form as the whole page (never a redirect, which would lose it).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from control_instance.console.deps import AdminUser
from control_instance.console.rendering import page
from control_instance.console.views._ops_forms import blank, validated
from control_instance.deps import StateDep
from control_instance.ims import service
from control_instance.ims.schemas import (
    TechnicalAccountCreate,
    TechnicalAccountPublic,
    TechnicalAccountUpdate,
)
from control_instance.pagination import PageParams, RowId
from control_instance.state import ControlState
from services.auth.ims import JWKS_PATH, TOKEN_PATH, message_center_profile
from services.ui import is_htmx

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_ALL = PageParams(limit=500, offset=0)
_PATH = "/technical-accounts"

FormText = Annotated[str, Form()]
SecretUuid = Annotated[str, Path(min_length=1, max_length=36)]


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


async def _accounts(state: ControlState) -> list[TechnicalAccountPublic]:
    listed = await run_in_threadpool(
        lambda: service.list_technical_accounts(db=state.db, page=_ALL)
    )
    return listed.items


async def _answer(
    request: Request, state: ControlState, user: AdminUser, message: str, **extra: Any
) -> Response:
    """Render the table (htmx: with ``message`` in ``#flash``) or, for a plain form, the page."""
    context: dict[str, Any] = {
        "accounts": await _accounts(state),
        "token_url": state.settings.resolved_public_url + TOKEN_PATH,
        "jwks_url": state.settings.resolved_public_url + JWKS_PATH,
        "profile": message_center_profile(state.settings.campaign_instance),
        **extra,
    }
    if is_htmx(request):
        return page(
            request,
            "_ops_technical_accounts_table.html",
            user,
            flash_message=message,
            flash_kind="ok",
            **context,
        )
    return page(request, "technical_accounts.html", user, active=_PATH, **context)


@router.get(_PATH, response_class=HTMLResponse)
async def list_technical_accounts(request: Request, state: StateDep, user: AdminUser) -> Response:
    """Show the technical accounts, the IMS URLs and the form to add one."""
    return await _answer(request, state, user, "")


@router.post(_PATH, response_model=None)
async def create_technical_account(
    request: Request,
    state: StateDep,
    user: AdminUser,
    name: FormText = "",
    client_id: FormText = "",
    scopes: FormText = "",
    product_profiles: FormText = "",
) -> Response:
    """Add a technical account; its client secret is shown this once."""
    data: dict[str, Any] = {"name": name.strip(), "client_id": blank(client_id)}
    if blank(scopes):
        data["scopes"] = _list(scopes)
    if blank(product_profiles):
        data["product_profiles"] = _list(product_profiles)
    new = validated(TechnicalAccountCreate, data)
    instance = state.settings.campaign_instance
    created = await run_in_threadpool(
        lambda: service.create_technical_account(db=state.db, new=new, campaign_instance=instance)
    )
    account = created.technical_account
    return await _answer(
        request,
        state,
        user,
        f"Technical account {account.name} added: copy its client secret now.",
        revealed={"client_id": account.client_id, "secret": created.client_secret},
    )


@router.post(_PATH + "/{account_id}", response_model=None)
async def update_technical_account(
    account_id: RowId,
    request: Request,
    state: StateDep,
    user: AdminUser,
    scopes: FormText = "",
    product_profiles: FormText = "",
) -> Response:
    """Change an account's scopes and product profiles (the next tokens carry them)."""
    changes = validated(
        TechnicalAccountUpdate,
        {"scopes": _list(scopes), "product_profiles": _list(product_profiles)},
    )
    changed = await run_in_threadpool(
        lambda: service.update_technical_account(
            db=state.db, account_id=account_id, changes=changes
        )
    )
    return await _answer(request, state, user, f"{changed.name} changed: new tokens carry it.")


@router.post(_PATH + "/{account_id}/secrets", response_model=None)
async def add_client_secret(
    account_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Add a client secret (rotation); it is shown this once."""
    added = await run_in_threadpool(
        lambda: service.add_client_secret(db=state.db, account_id=account_id)
    )
    account = await run_in_threadpool(
        lambda: service.get_technical_account(db=state.db, account_id=account_id)
    )
    return await _answer(
        request,
        state,
        user,
        f"New client secret for {account.name}: copy it now, move the integration to it, "
        "then delete the old one.",
        revealed={"client_id": account.client_id, "secret": added.client_secret},
    )


@router.post(_PATH + "/{account_id}/secrets/{secret_uuid}/delete", response_model=None)
async def delete_client_secret(
    account_id: RowId, secret_uuid: SecretUuid, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Delete a client secret (never the last one)."""
    await run_in_threadpool(
        lambda: service.delete_client_secret(
            db=state.db, account_id=account_id, secret_uuid=secret_uuid
        )
    )
    return await _answer(request, state, user, "Client secret deleted.")


@router.post(_PATH + "/{account_id}/delete", response_model=None)
async def delete_technical_account(
    account_id: RowId, request: Request, state: StateDep, user: AdminUser
) -> Response:
    """Delete a technical account (its tokens live until they expire)."""
    gone = await run_in_threadpool(
        lambda: service.get_technical_account(db=state.db, account_id=account_id)
    )
    await run_in_threadpool(
        lambda: service.delete_technical_account(db=state.db, account_id=account_id)
    )
    return await _answer(request, state, user, f"Technical account {gone.name} deleted.")
