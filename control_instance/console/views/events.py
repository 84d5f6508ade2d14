"""Console section: the archived event history (search, paging) and one event's page.

Both call the API's queries (``control_instance/archive/history.py``). Event data is hostile
input: every value reaches the page through Jinja2's autoescaping, the event document included
(pretty-printed as text, never as markup).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from lxml import etree
from starlette.concurrency import run_in_threadpool

from control_instance.archive import history
from control_instance.archive.schemas import ArchivedEventDetail
from control_instance.archive.service import archive_all
from control_instance.console.deps import AdminUser, ViewerUser
from control_instance.console.rendering import page
from control_instance.console.views._mailbox import find_messages
from control_instance.console.views._ops_forms import (
    answer_change,
    blank,
    optional_int,
    optional_time,
)
from control_instance.deps import StateDep
from control_instance.pagination import Page, PageParams
from services.errors import McsimError, NotFound
from services.soap.parser import parse_xml

__all__ = ["CHANNELS", "STATUS_LABELS", "router"]

router = APIRouter(include_in_schema=False)

#: The console's labels of the event statuses (DESIGN §3.5), by REST name.
STATUS_LABELS = {
    "pending": "Pending",
    "processing": "Pending delivery",
    "processed": "Sent",
    "ignored": "Ignored",
    "deliveryFailed": "Delivery failed",
    "routingFailed": "Event not covered",
    "tooOld": "Event expired",
    "paused": "Paused",
}
#: ``wishedChannel`` values and their names.
CHANNELS = {0: "Email", 1: "SMS", 41: "iOS push", 42: "Android push"}
_FIELDS = ("email", "external_id", "plId", "type", "status", "channel", "instance")
_TIMES = ("since", "until")


@dataclass(frozen=True)
class _Search:
    """A history search as the form sent it (``values``) and as the query reads it."""

    values: dict[str, str]
    where: history.EventFilter
    page: PageParams


def _values(params: dict[str, str]) -> dict[str, str]:
    return {name: (params.get(name) or "").strip() for name in (*_FIELDS, *_TIMES)}


def _search(params: dict[str, str]) -> _Search:
    values = _values(params)
    where = history.EventFilter(
        email=blank(values["email"]),
        external_id=blank(values["external_id"]),
        pl_id=optional_int(
            values["plId"],
            "plId",
            low=-(2**63),
            words="Enter the event id in digits, such as 72057594037927937.",
        ),
        event_type=blank(values["type"]),
        status=history.parse_status(blank(values["status"])),
        channel=optional_int(values["channel"], "channel", high=255),
        instance_id=optional_int(values["instance"], "instance", low=1, high=255),
        since=optional_time(values["since"], "since"),
        until=optional_time(values["until"], "until"),
    )
    limit = optional_int(params.get("limit"), "limit", low=1, high=500) or 50
    offset = optional_int(params.get("offset"), "offset") or 0
    return _Search(values=values, where=where, page=PageParams(limit=limit, offset=offset))


def _context(
    values: dict[str, str], found: Page[Any] | None, error: McsimError | None
) -> dict[str, Any]:
    query = urlencode({k: v for k, v in values.items() if v})
    return {
        "values": values,
        "found": found,
        "search_error": error,
        # Shown next to the field it is about (what was typed stays in the form).
        "errors": {error.field or "": error.message} if error else {},
        "pager_base": "/events?" + (query + "&" if query else ""),
        "status_labels": STATUS_LABELS,
        "channels": CHANNELS,
    }


async def _results(request: Request, state: StateDep) -> dict[str, Any]:
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        search = _search(params)
    except McsimError as exc:
        return _context(_values(params), None, exc)
    found = await run_in_threadpool(
        lambda: history.list_events(db=state.db, where=search.where, page=search.page)
    )
    return _context(search.values, found, None)


@router.get("/events", response_class=HTMLResponse)
async def events_page(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Search the archived history: email, external id, plId, type, status, time, channel."""
    context = await _results(request, state)
    return page(request, "events.html", user, active="/events", **context)


@router.post("/events/archive", response_model=None)
async def archive_now(request: Request, state: StateDep, user: AdminUser) -> Response:
    """Run an archiving pass on every enabled instance now, then show the search again."""
    outcomes = await archive_all(state=state)
    written = sum(outcome.archived for outcome in outcomes)
    failed = [f"{outcome.name}: {outcome.error}" for outcome in outcomes if not outcome.ok]
    message = f"Archiving pass done: {written} event changes archived."
    if failed:
        message += " Not reached: " + "; ".join(failed)
    context = await _results(request, state)
    return answer_change(
        request,
        user,
        fragment="_ops_events_results.html",
        message=message,
        kind="warn" if failed else "ok",
        back="/events",
        **context,
    )


def _pretty(xml: str) -> str:
    """Return an XML document indented for reading, or as it is when it cannot be parsed."""
    try:
        root = parse_xml(xml.encode("utf-8"))
    except McsimError:
        return xml
    etree.indent(root, space="  ")
    return etree.tostring(root, encoding="unicode")


def _ctx(xml: str) -> str | None:
    try:
        root = parse_xml(xml.encode("utf-8"))
    except McsimError:
        return None
    ctx = root.find("ctx")
    if ctx is None:
        return None
    ctx = copy.deepcopy(ctx)  # alone: the envelope's namespace declarations can go
    etree.cleanup_namespaces(ctx)
    etree.indent(ctx, space="  ")
    return etree.tostring(ctx, encoding="unicode", with_tail=False)


def _timeline(event: ArchivedEventDetail) -> list[tuple[str, datetime | None, str]]:
    final = STATUS_LABELS.get(event.status_name, event.status_name)
    steps: list[tuple[str, datetime | None, str]] = [
        ("Received", event.created_at, "stored by the execution instance (Pending)"),
        ("Processing", event.processing_at, "routed to a template and handed to mid-sourcing"),
    ]
    if event.status_name not in ("pending", "processing", "paused"):
        steps.append((final, event.processed_at or event.updated_at, "final status"))
    steps.append(("Last change", event.updated_at, f"status {final}"))
    steps.append(("Archived", event.archived_at, "copied into this control instance's history"))
    return steps


@router.get("/events/{pl_id}", response_class=HTMLResponse)
async def event_page(
    pl_id: int, request: Request, state: StateDep, user: ViewerUser
) -> HTMLResponse:
    """Show one archived event: its ctx, its status timeline, its outcome, its message."""
    if not -(2**63) <= pl_id < 2**63:  # a plId is a signed 64-bit number (services/plid.py)
        raise NotFound(f"no archived event {pl_id}")
    event = await run_in_threadpool(lambda: history.get_event(db=state.db, pl_id=pl_id))
    mailbox = await find_messages(state=state, pl_id=pl_id)
    return page(
        request,
        "event.html",
        user,
        active="/events",
        event=event,
        status_label=STATUS_LABELS.get(event.status_name, event.status_name),
        channel=CHANNELS.get(event.channel, str(event.channel)),
        ctx=_ctx(event.document),
        document=_pretty(event.document),
        timeline=_timeline(event),
        mailbox=mailbox,
        # The message that the outcome is about: the newest one (an event has one message).
        message=mailbox.messages[0] if mailbox.messages else None,
    )
