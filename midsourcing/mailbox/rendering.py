"""Rendering mailbox pages: the shared layout with the mailbox's navigation and CSRF cookie."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from midsourcing.mailbox import csrf
from services.errors import McsimError
from services.ui import Pages, page_headers

__all__ = ["NAV", "PAGES", "fragment", "html_errors", "page", "redirect"]

PAGES = Pages(Path(__file__).parent / "pages", product="mcsim mailbox")

#: The mailbox's sections, in the order of the navigation.
NAV: list[tuple[str, str]] = [
    ("/", "Messages"),
    ("/quarantine", "Quarantine"),
    ("/chaos", "Chaos"),
]


def _when(moment: datetime | None) -> str:
    """Show a moment in UTC, to the second."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


PAGES.env.filters["when"] = _when


def _console_url(request: Request) -> str:
    """Return the control console's URL ("" when the mailbox was not told it)."""
    state = getattr(request.app.state, "mid", None)
    url = state.settings.console_url if state is not None else None
    return (url or "").rstrip("/")


def page(
    request: Request,
    name: str,
    *,
    active: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a mailbox page; a browser without a CSRF token gets one as a cookie."""
    token, fresh = csrf.token_for(request)
    response = PAGES.page(
        request,
        name,
        status_code=status_code,
        nav=NAV,
        active=active,
        csrf_token=token,
        console_url=_console_url(request),
        **context,
    )
    if fresh:
        csrf.set_cookie(response, request, token)
    return response


def fragment(name: str, **context: Any) -> HTMLResponse:
    """Render a part of a page (an htmx answer) with the page security headers."""
    return HTMLResponse(PAGES.render(name, **context), headers=page_headers())


def redirect(url: str) -> Response:
    """Send the browser on to ``url`` after a change (303 See Other: it then GETs it)."""
    return RedirectResponse(url, status_code=303)


def html_errors(request: Request, exc: McsimError) -> Response:
    """Answer an error to a browser: a flash for htmx, else an error page with the navigation."""
    token, fresh = csrf.token_for(request)
    response = PAGES.error(
        request, exc, nav=NAV, active=None, csrf_token=token, console_url=_console_url(request)
    )
    if fresh:
        csrf.set_cookie(response, request, token)
    return response
