"""Logins: bearer tokens for the API, cookie sessions (with a CSRF token) for the console."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from control_instance.auth import service
from control_instance.auth.schemas import LoginIn, OperatorPublic, SessionOut, TokenOut
from control_instance.deps import (
    PrincipalDep,
    StateDep,
    clear_session_cookies,
    log_in,
    set_session_cookies,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/auth", tags=["authentication"])


@router.post("/login", response_model=TokenOut)
async def login(body: LoginIn, request: Request, state: StateDep) -> TokenOut:
    """Log in and get a bearer token for ``Authorization: Bearer …``."""
    issued = await log_in(state, request, login=body.login, password=body.password, kind="bearer")
    return TokenOut(
        access_token=issued.token, expires_at=issued.expires_at, operator=issued.operator
    )


@router.post("/logout", status_code=204, response_class=Response)
async def logout(principal: PrincipalDep, state: StateDep) -> Response:
    """Revoke the token (or session) this request carries."""
    await run_in_threadpool(lambda: service.log_out(db=state.db, principal=principal))
    response = Response(status_code=204)
    if principal.kind == "session":
        clear_session_cookies(response)
    return response


@router.get("/me", response_model=OperatorPublic)
async def me(principal: PrincipalDep, state: StateDep) -> OperatorPublic:
    """Return the operator this request is authenticated as."""
    return await run_in_threadpool(
        lambda: service.get_operator(db=state.db, operator_id=principal.operator_id)
    )


@router.post("/session", response_model=SessionOut)
async def open_session(
    body: LoginIn, request: Request, response: Response, state: StateDep
) -> SessionOut:
    """Log in to the console: sets the session cookie; changes must send X-CSRF-Token."""
    issued = await log_in(state, request, login=body.login, password=body.password, kind="session")
    assert issued.csrf_token is not None
    set_session_cookies(response, state.settings, issued)
    return SessionOut(
        csrf_token=issued.csrf_token, expires_at=issued.expires_at, operator=issued.operator
    )
