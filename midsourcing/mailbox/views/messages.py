"""The message list (search, counts, live updates) and one message (HTML, text, headers, raw)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from midsourcing.capture import service
from midsourcing.capture.schemas import MessageCounts, MessageDetail, MessageFilter, MessagePage
from midsourcing.deps import StateDep
from midsourcing.mailbox.compatibility import check_compatibility
from midsourcing.mailbox.csrf import CsrfChecked
from midsourcing.mailbox.html_source import highlight, links
from midsourcing.mailbox.rendering import fragment, page, redirect
from midsourcing.mailbox.search import SEARCH_SYNTAX, parse_search
from midsourcing.mailbox.sms import sms_parts
from midsourcing.routes.messages import Channel, Status
from services.clock import utc_now
from services.errors import Conflict, InvalidRequest, NotFound
from services.safe_input import Int64, RowId, SearchText
from services.ui import frame_headers, is_htmx
from services.ui.listing import choice, pager_base

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

CHANNELS: tuple[str, ...] = get_args(Channel)
STATUSES: tuple[str, ...] = get_args(Status)
_LIMIT = 50
_TABS = {
    "email": ("html", "source", "links", "compatibility", "text", "headers", "raw"),
    "sms": ("sms", "raw"),
    "push": ("push", "raw"),
}
#: The tabs of an email's HTML part (none when it has only text).
_HTML_TABS = ("html", "source", "links", "compatibility")
_TAB_LABELS = {
    "html": "HTML",
    "source": "Source",
    "links": "Links",
    "compatibility": "Compatibility",
    "text": "Text",
    "headers": "Headers",
    "raw": "Raw",
    "sms": "SMS",
    "push": "Push",
}


def _moment(value: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be a date and time such as 2026-01-31T09:30 (UTC)", field=name
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _proof(value: str) -> bool | None:
    answers = {"": None, "yes": True, "no": False}
    if value not in answers:
        raise InvalidRequest("proof must be yes, no or empty", field="proof")
    return answers[value]


def _signature(found: MessagePage, counts: MessageCounts) -> str:
    """Return a short digest of what the list shows: a reload answers 204 while it is unchanged."""
    shown = [(m.id, m.status, m.tries) for m in found.messages]
    text = json.dumps([found.total, shown, counts.model_dump()], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _criteria(filters: dict[str, str]) -> MessageFilter:
    """Return the search the list's form asks for (its fields, and the search box's words)."""
    # The search box's name:value words (to:, status:, is:proof…) fill the filters they name;
    # a field of the form, when set, wins. The box keeps what was typed.
    typed = parse_search(filters["q"])
    wanted = {**typed.fields, **{k: v for k, v in filters.items() if v and k != "q"}}
    return MessageFilter(
        q=typed.text or None,
        recipient=wanted.get("recipient") or None,
        subject=wanted.get("subject") or None,
        event_type=wanted.get("event_type") or None,
        channel=choice(wanted.get("channel", ""), CHANNELS, "channel"),
        status=choice(wanted.get("status", ""), STATUSES, "status"),
        proof=_proof(wanted.get("proof", "")),
        since=_moment(wanted.get("since", ""), "since"),
        until=_moment(wanted.get("until", ""), "until"),
    )


async def _refused(
    request: Request, state: StateDep, filters: dict[str, str], exc: InvalidRequest, *, limit: int
) -> Response:
    """Show the list's page again with what was typed, the error next to the field (400)."""
    # a filter set by a word of the search box is explained under the box
    where = exc.field if exc.field and filters.get(exc.field) else "q"
    counts = await run_in_threadpool(service.count_messages, db=state.db)
    return page(
        request,
        "messages.html",
        active="/",
        status_code=400,
        deleted=None,
        kept=None,
        found=MessagePage(total=0, offset=0, limit=limit, messages=[]),
        counts=counts,
        filters=filters,
        filtered=True,
        base="/?",
        poll="",  # nothing to keep up to date
        channels=CHANNELS,
        statuses=STATUSES,
        search_syntax=SEARCH_SYNTAX,
        errors={where: exc.message},
        now=utc_now(),
    )


@router.get("/", response_class=HTMLResponse, response_model=None)
async def message_list(
    request: Request,
    state: StateDep,
    q: SearchText = "",
    recipient: SearchText = "",
    subject: SearchText = "",
    event_type: SearchText = "",
    channel: str = "",
    status: str = "",
    proof: str = "",
    since: str = "",
    until: str = "",
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = _LIMIT,
    v: str = "",
    deleted: Int64 | None = None,
    kept: Int64 | None = None,
) -> Response:
    """Show the captured messages, newest first; htmx reloads the list part at each change the
    server streams (``/api/v1/messages/stream``)."""
    filters = {
        "q": q.strip(),
        "recipient": recipient.strip(),
        "subject": subject.strip(),
        "event_type": event_type.strip(),
        "channel": channel,
        "status": status,
        "proof": proof,
        "since": since,
        "until": until,
    }
    try:
        criteria = _criteria(filters)
    except InvalidRequest as exc:
        if is_htmx(request):
            raise
        return await _refused(request, state, filters, exc, limit=limit)
    found = await run_in_threadpool(
        service.list_messages, db=state.db, criteria=criteria, limit=limit, offset=offset
    )
    counts = await run_in_threadpool(service.count_messages, db=state.db)
    signature = _signature(found, counts)
    if is_htmx(request) and v == signature:
        return Response(status_code=204)
    base = pager_base("/", filters)
    context: dict[str, Any] = {
        "found": found,
        "counts": counts,
        "filters": filters,
        "filtered": any(filters.values()),
        "base": base,
        "poll": base + urlencode({"offset": offset, "limit": limit, "v": signature}),
        "channels": CHANNELS,
        "statuses": STATUSES,
        "search_syntax": SEARCH_SYNTAX,
        "errors": {},
        "now": utc_now(),  # the times are shown relative to the server's clock (virtual or not)
    }
    if is_htmx(request):
        return fragment("_message_list.html", **context)
    return page(
        request,
        "messages.html",
        active="/",
        deleted=deleted,
        kept=kept,
        **context,
    )


@router.post("/messages/delete", response_model=None)
async def delete_all(state: StateDep, _: CsrfChecked) -> Response:
    """Delete every finished message (those still being delivered are kept)."""
    result = await run_in_threadpool(service.delete_messages, db=state.db)
    return redirect(f"/?deleted={result.deleted}&kept={result.kept}")


def _kind(message: MessageDetail) -> str:
    return "push" if message.channel in ("ios", "android") else message.channel


def _custom_data(data: str) -> str:
    """Return push custom data pretty-printed when it is JSON, else as it is."""
    try:
        return json.dumps(json.loads(data), indent=2, ensure_ascii=False) if data else ""
    except ValueError:
        return data


@router.get("/messages/{message_id}", response_class=HTMLResponse)
async def message_page(
    request: Request, state: StateDep, message_id: RowId, tab: str = ""
) -> HTMLResponse:
    """Show one message: its content in tabs and what happened to its delivery."""
    domain = state.settings.message_id_domain
    # Opening a message marks it read (as a mail client): every open list shows it at once.
    newer, older = await run_in_threadpool(service.open_message, db=state.db, pk=message_id)
    state.feed.changed()
    message = await run_in_threadpool(
        service.get_message, db=state.db, pk=message_id, domain=domain
    )
    try:
        raw = await run_in_threadpool(
            service.raw_message, db=state.db, pk=message_id, domain=domain
        )
    except Conflict as exc:  # an email that cannot be encoded: the page says so in its tab
        raw, raw_problem = None, exc.message
    else:
        raw_problem = ""
    kind = _kind(message)
    tabs = [t for t in _TABS.get(kind, ("raw",)) if t not in _HTML_TABS or message.html]
    selected = tab if tab in tabs else tabs[0]
    return page(
        request,
        "message.html",
        active="/",
        message=message,
        kind=kind,
        tabs=[(name, _TAB_LABELS[name]) for name in tabs],
        selected=selected,
        raw=raw.body.decode("utf-8", errors="replace") if raw else "",
        raw_filename=raw.filename if raw else "",
        raw_problem=raw_problem,
        custom_data=_custom_data(message.data),
        sms=sms_parts(message.text) if kind == "sms" else None,
        source=highlight(message.html) if message.html else [],
        links=links(message.html) if message.html else [],
        compatibility=check_compatibility(message.html) if message.html else [],
        newer=newer,
        older=older,
    )


@router.get("/messages/{message_id}/html", response_class=HTMLResponse)
async def message_html(state: StateDep, message_id: RowId) -> HTMLResponse:
    """Serve an email's HTML alone, for the sandboxed frame: inert, no script at all."""
    message = await run_in_threadpool(
        service.get_message, db=state.db, pk=message_id, domain=state.settings.message_id_domain
    )
    if not message.html:
        raise NotFound(f"message {message_id} has no HTML part", field="id")
    return HTMLResponse(message.html, headers=frame_headers())


@router.post("/messages/{message_id}/delete", response_model=None)
async def delete_one(state: StateDep, message_id: RowId, _: CsrfChecked) -> Response:
    """Delete one finished message."""
    await run_in_threadpool(service.delete_message, db=state.db, pk=message_id)
    return redirect("/?deleted=1")
