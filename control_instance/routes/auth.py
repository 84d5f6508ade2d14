"""Logins: bearer tokens for the API, cookie sessions (with a CSRF token) for the console."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from control_instance.auth import service
from control_instance.auth.schemas import LoginIn, OperatorPublic, SessionOut, TokenOut
from control_instance.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    PrincipalDep,
    StateDep,
    client_address,
)
from control_instance.state import ControlState
from services.settings import Environment

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/auth", tags=["authentication"])


async def _log_in(
    state: ControlState, body: LoginIn, request: Request, kind: str
) -> service.Issued:
    settings = state.settings
    return await run_in_threadpool(
        lambda: service.log_in(
            db=state.db,
            throttle=state.throttle,
            login=body.login,
            password=body.password,
            address=client_address(request),
            kind=kind,
            ttl_seconds=settings.session_ttl_seconds,
            production=settings.environment is Environment.PRODUCTION,
        )
    )


@router.post("/login", response_model=TokenOut)
async def login(body: LoginIn, request: Request, state: StateDep) -> TokenOut:
    """Log in and get a bearer token for ``Authorization: Bearer …``."""
    issued = await _log_in(state, body, request, "bearer")
    return TokenOut(
        access_token=issued.token, expires_at=issued.expires_at, operator=issued.operator
    )


@router.post("/logout", status_code=204, response_class=Response)
async def logout(principal: PrincipalDep, state: StateDep) -> Response:
    """Revoke the token (or session) this request carries."""
    await run_in_threadpool(lambda: service.log_out(db=state.db, principal=principal))
    response = Response(status_code=204)
    if principal.kind == "session":
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
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
    issued = await _log_in(state, body, request, "session")
    assert issued.csrf_token is not None
    # Production always marks the cookies Secure (behind a TLS proxy the public URL may lie).
    production = state.settings.environment is Environment.PRODUCTION
    secure = production or state.settings.resolved_public_url.startswith("https://")
    max_age = state.settings.session_ttl_seconds
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    # Readable by the console's scripts, which echo it in the X-CSRF-Token header.
    response.set_cookie(
        CSRF_COOKIE,
        issued.csrf_token,
        max_age=max_age,
        httponly=False,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return SessionOut(
        csrf_token=issued.csrf_token, expires_at=issued.expires_at, operator=issued.operator
    )
