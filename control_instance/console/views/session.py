"""Logging in to and out of the console."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from control_instance.auth import service as auth
from control_instance.console.deps import ConsoleUser
from control_instance.console.rendering import page, redirect
from control_instance.deps import StateDep, clear_session_cookies, log_in, set_session_cookies
from services.errors import AuthenticationFailed, Forbidden, RateLimited

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Return ``target`` when it is a path on this site, else the dashboard (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if not target.isprintable():
        # urlsplit drops CR, LF and TAB before it parses: they would reach HX-Redirect (F13).
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    """Return whether a login form was posted from this site (login CSRF)."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    """Show the login form."""
    return page(request, "login.html", None, next=_safe_next(next), error=None, login="")


@router.post("/login", response_model=None)
async def login_submit(
    request: Request,
    state: StateDep,
    login: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the login and open a console session."""
    target = _safe_next(next)
    if not _same_origin(request):
        raise Forbidden("the login form must be posted from this site")
    try:
        issued = await log_in(state, request, login=login, password=password, kind="session")
    except (AuthenticationFailed, Forbidden, RateLimited) as exc:
        return page(
            request,
            "login.html",
            None,
            status_code=exc.status_code,
            next=target,
            error=exc.message,
            login=login,
        )
    response = redirect(request, target)
    set_session_cookies(response, state.settings, issued)
    return response


@router.post("/logout", response_model=None)
async def logout(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """End the console session."""
    await run_in_threadpool(lambda: auth.log_out(db=state.db, principal=user.principal))
    response = redirect(request, "/login")
    clear_session_cookies(response)
    return response
