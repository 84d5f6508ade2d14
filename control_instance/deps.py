"""FastAPI dependencies of the control instance: state, the authenticated operator, roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from control_instance.auth import service as auth
from control_instance.auth.roles import Principal, Role
from control_instance.settings import ControlSettings
from control_instance.state import ControlState
from services.errors import AuthenticationFailed, Forbidden
from services.settings import Environment

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "AdminDep",
    "EditorDep",
    "PrincipalDep",
    "StateDep",
    "ViewerDep",
    "clear_session_cookies",
    "client_address",
    "log_in",
    "provide_state",
    "set_session_cookies",
]

SESSION_COOKIE = "mcsim_session"
CSRF_COOKIE = "mcsim_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/login.")
_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The console session (POST /api/v1/auth/session); changes need X-CSRF-Token.",
)


async def log_in(
    state: ControlState, request: Request, *, login: str, password: str, kind: str
) -> auth.Issued:
    """Check a login and password (throttled per login and address) and issue a token."""
    settings = state.settings
    return await run_in_threadpool(
        lambda: auth.log_in(
            db=state.db,
            throttle=state.throttle,
            login=login,
            password=password,
            address=client_address(request),
            kind=kind,
            ttl_seconds=settings.session_ttl_seconds,
            production=settings.environment is Environment.PRODUCTION,
        )
    )


def set_session_cookies(response: Response, settings: ControlSettings, issued: auth.Issued) -> None:
    """Set the console's session cookie (HttpOnly) and its CSRF cookie (readable by scripts)."""
    assert issued.csrf_token is not None
    # Production always marks the cookies Secure (behind a TLS proxy the public URL may lie).
    production = settings.environment is Environment.PRODUCTION
    secure = production or settings.resolved_public_url.startswith("https://")
    max_age = settings.session_ttl_seconds
    for name, value, http_only in (
        (SESSION_COOKIE, issued.token, True),
        (CSRF_COOKIE, issued.csrf_token, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            httponly=http_only,
            samesite="strict",
            secure=secure,
            path="/",
        )


def clear_session_cookies(response: Response) -> None:
    """Remove the console's session and CSRF cookies."""
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


def provide_state(request: Request) -> ControlState:
    """Return the running control instance's state."""
    state: ControlState = request.app.state.control
    return state


StateDep = Annotated[ControlState, Depends(provide_state)]


def client_address(request: Request) -> str:
    """Return the caller's address (for login throttling)."""
    return request.client.host if request.client else ""


async def provide_principal(
    request: Request,
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Principal:
    """Authenticate the request: a bearer token, or a session cookie (with CSRF on changes)."""
    if bearer is not None and bearer.credentials:
        return await run_in_threadpool(
            lambda: auth.authenticate(db=state.db, token=bearer.credentials, kind="bearer")
        )
    if cookie:
        principal = await run_in_threadpool(
            lambda: auth.authenticate(db=state.db, token=cookie, kind="session")
        )
        if request.method not in _SAFE_METHODS:
            csrf = request.headers.get(CSRF_HEADER)
            await run_in_threadpool(
                lambda: auth.check_csrf(db=state.db, principal=principal, csrf_token=csrf)
            )
        return principal
    raise AuthenticationFailed(
        "authentication required: Authorization: Bearer <token from POST /api/v1/auth/login>"
    )


PrincipalDep = Annotated[Principal, Depends(provide_principal)]


def _require(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: PrincipalDep) -> Principal:
        if not principal.role.allows(role):
            raise Forbidden(
                f"this needs the {role.value} role; {principal.login} is {principal.role.value}"
            )
        return principal

    return check


ViewerDep = Annotated[Principal, Depends(_require(Role.VIEWER))]
EditorDep = Annotated[Principal, Depends(_require(Role.EDITOR))]
AdminDep = Annotated[Principal, Depends(_require(Role.ADMIN))]
