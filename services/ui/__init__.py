"""What mcsim's web pages share: Jinja2 set-up, vendored assets, security headers, HTML errors.

The control console and the mid-sourcing mailbox are server-rendered (Jinja2, autoescaped) and
enhanced with htmx, vendored under ``static/vendor`` (nothing is ever loaded from a CDN). Pages
are served with a strict Content-Security-Policy (:data:`PAGE_CSP`: scripts and styles from this
origin only, no inline script); rendered message bodies are shown in sandboxed frames served with
:data:`FRAME_CSP`, which allows no script at all.

Each service builds its own :class:`Pages` with the folder of its own page templates; the shared
layout (``_layout.html``), macros (``_macros.html``) and error page live in ``pages/`` here and
can be extended or imported by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from services.errors import McsimError
from services.version import VERSION

__all__ = [
    "FRAME_CSP",
    "PAGE_CSP",
    "STATIC_DIR",
    "Pages",
    "csrf_token_sent",
    "frame_headers",
    "is_htmx",
    "mount_static",
    "page_headers",
    "wants_html",
]

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
SHARED_PAGES = HERE / "pages"

#: The policy of every console and mailbox page: nothing but this origin, no inline script.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: The policy of a rendered message (HTML e-mail, preview): inert, shown only inside our frames.
FRAME_CSP = (
    "default-src 'none'; img-src data: http: https:; style-src 'unsafe-inline'; "
    "font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"
)


def page_headers() -> dict[str, str]:
    """Return the security headers of a console or mailbox page."""
    return {
        "Content-Security-Policy": PAGE_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def frame_headers() -> dict[str, str]:
    """Return the headers of a rendered message shown in a sandboxed frame."""
    return {
        "Content-Security-Policy": FRAME_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "no-store",
    }


def is_htmx(request: Request) -> bool:
    """Return whether htmx sent the request (it then expects a fragment)."""
    return request.headers.get("HX-Request") == "true"


async def csrf_token_sent(request: Request, header: str) -> str | None:
    """Return the CSRF token a change sent: in ``header`` (htmx) or a form's ``csrf_token`` field.

    Only a form body is read (URL-encoded or multipart), never any other kind of body.
    """
    sent = request.headers.get(header)
    if sent:
        return sent
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def wants_html(request: Request) -> bool:
    """Return whether the caller is a browser navigating to a page (not an API client)."""
    path = request.url.path
    if path.startswith("/api/") or path.startswith("/nl/") or path.startswith("/_mc/"):
        return False
    return is_htmx(request) or "text/html" in request.headers.get("accept", "")


def mount_static(app: FastAPI) -> None:
    """Serve the shared static assets (CSS, vendored htmx, console scripts) at ``/static``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


class Pages:
    """A service's page renderer: its own templates first, then the shared ones."""

    def __init__(self, own_dir: Path, *, product: str, globals_: Mapping[str, Any] | None = None):
        loader = jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(own_dir), jinja2.FileSystemLoader(SHARED_PAGES)]
        )
        self.env = jinja2.Environment(
            loader=loader,
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update({"product": product, "version": VERSION, **(globals_ or {})})

    def render(self, name: str, **context: Any) -> str:
        """Render the template ``name`` with ``context``."""
        return self.env.get_template(name).render(**context)

    def page(
        self,
        request: Request,
        name: str,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        """Return ``name`` rendered as an HTML response with the page security headers."""
        html = self.render(name, request=request, **context)
        return HTMLResponse(
            html, status_code=status_code, headers={**page_headers(), **(headers or {})}
        )

    def error(self, request: Request, exc: McsimError, **context: Any) -> Response:
        """Answer ``exc`` for a browser: a flash fragment for htmx, else a whole error page."""
        if is_htmx(request):
            html = self.render(
                "_flash.html",
                kind="error",
                message=exc.message,
                detail=exc.detail,
                field=exc.field,
            )
            # htmx swaps error answers (see the htmx-config meta tag) into the flash region;
            # mcsim.js shows one that names a field next to that field of the form sent.
            return HTMLResponse(
                html,
                status_code=exc.status_code,
                headers={**page_headers(), "HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
            )
        return self.page(
            request,
            "_error.html",
            status_code=exc.status_code,
            error=exc,
            **context,
        )
