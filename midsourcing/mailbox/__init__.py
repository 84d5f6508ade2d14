"""The mid-sourcing server's web mailbox, in the spirit of Mailpit: ``/``, ``/messages/{id}``,
``/quarantine`` and ``/chaos``.

Server-rendered pages (Jinja2, autoescaped, htmx for live updates) that call the same use cases
as the REST API (``midsourcing/capture``, ``midsourcing/quarantine``, the chaos routes); the
mailbox adds only presentation. Like Mailpit it has no login, so every change is guarded against
cross-site requests (:mod:`midsourcing.mailbox.csrf`). A message's HTML is shown only in a
sandboxed frame served under ``FRAME_CSP`` (no script at all).
"""

from __future__ import annotations

from fastapi import FastAPI

from midsourcing.mailbox.rendering import html_errors
from midsourcing.mailbox.views import chaos, messages, quarantine
from services.ui import mount_static

__all__ = ["install_mailbox"]


def install_mailbox(app: FastAPI) -> None:
    """Serve the mailbox's pages and the shared assets from ``app``."""
    mount_static(app)
    app.state.html_errors = html_errors
    for section in (messages, quarantine, chaos):
        app.include_router(section.router)
