"""Builders of control-instance test data through its API."""

from __future__ import annotations

import uuid
from typing import Any

from tests.integration.control.conftest import Cell


def unique(prefix: str) -> str:
    """Return a unique upper-case name."""
    return f"{prefix}_{uuid.uuid4().hex[:8].upper()}"


async def make_event_type(cell: Cell, headers: dict[str, str], name: str | None = None) -> str:
    """Create an event type and return its name."""
    name = name or unique("EVT")
    answer = await cell.control.post(
        "/api/v1/event-types", json={"name": name, "label": name.title()}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return name


async def make_template(
    cell: Cell,
    headers: dict[str, str],
    *,
    channel: str = "email",
    event_type: str | None = None,
    content: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Create an event type and a template for it; return the template."""
    event_type = event_type or await make_event_type(cell, headers)
    body = {
        "event_type": event_type,
        "channel": channel,
        "content": content
        if content is not None
        else {
            "from_name": "Acme",
            "from_address": "noreply@acme.test",
            "reply_to": "help@acme.test",
            "subject": "v1 for <%= rtEvent.ctx.firstName %>",
            "html": "<p>Hi <%= rtEvent.ctx.firstName %></p>",
            "text": "Hi <%= rtEvent.ctx.firstName %>",
        },
    }
    answer = await cell.control.post("/api/v1/templates", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    template: dict[str, Any] = answer.json()
    return template
