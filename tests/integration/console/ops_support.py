"""Helpers of the operations-page tests: consoles of other roles, archived events as builders."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import quoteattr

import httpx

from control_instance.archive.service import store_page
from tests.integration.console.conftest import HTML, Browser

_numbers = itertools.count(1)


@asynccontextmanager
async def console_as(browser: Browser, role: str) -> AsyncIterator[Browser]:
    """Yield a second console, logged in as a new operator with ``role``, beside the admin's."""
    login = f"{role}-{next(_numbers)}"
    password = "password-" + role
    created = await browser.post(
        "/operators", {"login": login, "role": role, "password": password, "name": role}
    )
    assert created.status_code == 303, created.text
    transport = httpx.ASGITransport(app=browser.cell.control_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.post(
            "/login", data={"login": login, "password": password, "next": "/"}, headers=HTML
        )
        assert answer.status_code == 303, answer.text
        yield Browser(cell=browser.cell, client=client, csrf=client.cookies["mcsim_csrf"])


def archived_event(
    *,
    instance_id: int = 1,
    pk: int | None = None,
    event_type: str = "ORDER_CONFIRMATION",
    status: int = 2,
    channel: int = 0,
    email: str | None = "ann@example.com",
    external_id: str | None = None,
    ctx: str = "<ctx><firstName>Ann</firstName></ctx>",
    created_at: datetime | None = None,
    failure_reason: int | None = None,
    error_text: str | None = None,
) -> dict[str, Any]:
    """Return one event as an execution instance's ``GET /_mc/events`` pages it."""
    pk = pk if pk is not None else next(_numbers)
    created = created_at or datetime.now(UTC) - timedelta(minutes=10)
    final = status not in (0, 7)
    names = ["pending", "processing", "processed", "ignored", "deliveryFailed"]
    names += ["routingFailed", "tooOld", "paused"]
    document = f'<rtEvent type="{event_type}" email={quoteattr(email or "")}>{ctx}</rtEvent>'
    return {
        "pl_id": (instance_id << 56) | pk,
        "instance_id": instance_id,
        "queue": "rt",
        "event_type": event_type,
        "status": status,
        "status_name": names[status],
        "channel": channel,
        "email": email,
        "mobile_phone": None,
        "external_id": external_id,
        "document": document,
        "created_at": created.isoformat(),
        "processing_at": (created + timedelta(seconds=2)).isoformat() if final else None,
        "processed_at": (created + timedelta(seconds=5)).isoformat() if final else None,
        "updated_at": (created + timedelta(seconds=5)).isoformat(),
        "error_count": 0 if status == 2 else 1,
        "failure_reason": failure_reason,
        "error_text": error_text,
        "template_name": f"{event_type}_email",
        "template_version": 1,
        "delivery_part": None,
    }


def archive(browser: Browser, *events: dict[str, Any], account_id: int = 1) -> None:
    """Put events in the archive through the archiver's own store."""
    db = browser.cell.control_app.state.control.db
    store_page(db, account_id, list(events), "")
