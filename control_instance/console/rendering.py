"""Rendering console pages: the shared layout plus the control instance's navigation and banner."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from control_instance.auth import service as auth
from control_instance.console.deps import LoginRequired, User
from control_instance.deps import CSRF_COOKIE, SESSION_COOKIE
from control_instance.state import ControlState
from services.clock import clock, describe_offset
from services.errors import McsimError
from services.ui import Pages, is_htmx

__all__ = ["ADMIN_ONLY", "NAV", "PAGES", "html_errors", "page", "redirect"]

#: What Starlette's RedirectResponse leaves unencoded in a Location header.
_URL_SAFE = ":/%#?=@[]!$&'()*+,;"

PAGES = Pages(Path(__file__).parent / "pages", product="mcsim control")

#: The console's sections, in the order of the navigation.
NAV: list[tuple[str, str]] = [
    ("/", "Dashboard"),
    ("/event-types", "Event types"),
    ("/templates", "Templates"),
    ("/instances", "Execution instances"),
    ("/monitoring", "Monitoring"),
    ("/events", "Event history"),
    ("/reports", "Reports"),
    ("/operators", "Operators"),
    ("/technical-accounts", "Technical accounts"),
    ("/packages", "Packages"),
]
#: Sections only admins may open: the others do not see them in the navigation.
ADMIN_ONLY = frozenset({"/operators", "/technical-accounts"})


def _common(request: Request, user: User | None) -> dict[str, Any]:
    state: ControlState | None = getattr(request.app.state, "control", None)
    environment = state.settings.environment.value if state else "development"
    mailbox = state.settings.midsourcing_url.rstrip("/") if state else ""
    return {
        "mailbox_url": mailbox,
        "nav": [(href, label) for href, label in NAV if href not in ADMIN_ONLY or user.can("admin")]
        if user
        else [],
        "user": user,
        "csrf_token": user.csrf_token if user else "",
        "environment": environment,
        # The virtual clock, when a test stack moved it ahead of real time (issue 16).
        "clock": describe_offset(clock.offset.total_seconds()) if clock.offset else None,
    }


def page(
    request: Request,
    name: str,
    user: User | None,
    *,
    active: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a console page (or fragment) for ``user``."""
    return PAGES.page(
        request,
        name,
        status_code=status_code,
        active=active,
        **_common(request, user),
        **context,
    )


def redirect(request: Request, url: str) -> Response:
    """Send the browser to ``url``: an htmx redirect for htmx, else 303 See Other."""
    if is_htmx(request):
        # Percent-encoded as RedirectResponse encodes Location: no control character or
        # non-Latin-1 text can reach the header.
        return Response(status_code=204, headers={"HX-Redirect": quote(url, safe=_URL_SAFE)})
    return RedirectResponse(url, status_code=303)


def html_errors(request: Request, exc: McsimError) -> Response:
    """Answer an error to a browser: the login page when no session, else an error page."""
    if isinstance(exc, LoginRequired):
        target = "/login"
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if is_htmx(request):  # a fragment was asked for: come back to the page that showed it
            shown = urlsplit(request.headers.get("HX-Current-URL", ""))
            wanted = (shown.path or "/") + (f"?{shown.query}" if shown.query else "")
        if (request.method == "GET" or is_htmx(request)) and wanted not in ("/", "/login"):
            target += "?next=" + quote(wanted, safe="")
        if is_htmx(request):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    # The operator, when the request got as far as knowing them: the error page then keeps the
    # navigation and the account (deps.provide_user leaves them on the request).
    user: User | None = getattr(request.state, "console_user", None)
    return PAGES.error(request, exc, **_common(request, user or _session_user(request)))


def _session_user(request: Request) -> User | None:
    """Return the operator of the session cookie, if valid (an unknown page was asked for)."""
    state: ControlState | None = getattr(request.app.state, "control", None)
    token = request.cookies.get(SESSION_COOKIE)
    if state is None or not token:
        return None
    try:  # one primary-key read, in the error handler's own (synchronous) turn
        principal = auth.authenticate(db=state.db, token=token, kind="session")
    except McsimError:
        return None
    return User(principal=principal, csrf_token=request.cookies.get(CSRF_COOKIE, ""))
