"""The control console: server-rendered pages (Jinja2 + vendored htmx) served at ``/``.

Every page calls the same use cases as the JSON API (``control_instance/*/service.py``); the
console adds only presentation. A session cookie authenticates the browser; every change carries
the session's CSRF token (htmx sends it as ``X-CSRF-Token``, plain forms as ``csrf_token``).
"""

from __future__ import annotations

from fastapi import FastAPI

from control_instance.console.rendering import html_errors
from control_instance.console.views import (
    dashboard,
    event_types,
    events,
    instances,
    monitoring,
    operators,
    packages,
    reports,
    session,
    technical_accounts,
    templates,
)
from services.ui import mount_static

__all__ = ["install_console"]


def install_console(app: FastAPI) -> None:
    """Serve the console's pages and assets from ``app``."""
    mount_static(app)
    app.state.html_errors = html_errors
    sections = (
        session,
        dashboard,
        event_types,
        templates,
        instances,
        monitoring,
        events,
        reports,
        operators,
        technical_accounts,
        packages,
    )
    for module in sections:
        app.include_router(module.router)
