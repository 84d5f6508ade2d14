"""Use cases of the REST transactional API: submit an event, read it back."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lxml import etree
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from execution_instance.intake.channels import Channel, EventStatus, Queue
from execution_instance.intake.dates import format_xtk
from execution_instance.intake.documents import EventIn, read_event
from execution_instance.intake.service import event_row, pl_id, split_pl_id
from execution_instance.rest.ctx_mapping import ctx_to_json, json_to_ctx
from execution_instance.security.service import Credentials
from execution_instance.state import ExecutionState
from execution_instance.tables import Event
from services.clock import utc_now
from services.errors import Conflict, InvalidRequest, NotFound
from services.safe_input import ascii_digits, require_xml_text
from services.waiting import stream_stop, wait_any

__all__ = [
    "EventRequest",
    "StoredEvent",
    "check_idempotency",
    "event_resource",
    "get_event",
    "parse_status",
    "submit_event",
    "wait_for_event",
]

IDEMPOTENCY_WINDOW = timedelta(hours=24)
#: How often a waiting status read looks again: statuses change in the processing processes,
#: so a web process cannot be told in memory; a primary-key read is cheap.
WAIT_POLL_SECONDS = 0.1
#: Statuses an event never leaves.
FINAL = frozenset(
    {
        EventStatus.PROCESSED,
        EventStatus.IGNORED,
        EventStatus.DELIVERY_FAILED,
        EventStatus.ROUTING_FAILED,
        EventStatus.TOO_OLD,
    }
)
_IN_PROGRESS = frozenset({EventStatus.PENDING, EventStatus.PROCESSING})
_PUSH_TOKEN_FIELDS = ("registrationToken", "registrationId", "deviceToken")


@dataclass(frozen=True)
class EventRequest:
    """A REST event submission as received."""

    org: str
    api: str
    event_id: str
    body: dict[str, Any]
    idempotency_key: str | None


@dataclass(frozen=True)
class StoredEvent:
    """An event as the REST API shows it."""

    row: Event
    replayed: bool = False


def _event_type(state: ExecutionState, org: str, api: str, event_id: str) -> str:
    expected_api = "mc" + state.settings.organization
    if org != state.settings.organization or api != expected_api:
        raise NotFound(
            f"no transactional API at /{org}/campaign/{api}",
            detail=f"this instance serves /{state.settings.organization}/campaign/{expected_api}/",
        )
    name = event_id.removeprefix("EVT")
    if not event_id.startswith("EVT") or name not in state.intake.known_types():
        raise NotFound(
            f"no transactional event {event_id!r} is published",
            detail="event IDs are EVT + the event type name, e.g. EVTPASSWORD_RESET",
        )
    return name


def _channel(body: dict[str, Any]) -> Channel:
    """Pick the channel as Campaign v8 does: email wins unless wishedChannel says otherwise."""
    wished = body.get("wishedChannel")
    if wished is not None:
        try:
            return Channel.parse(str(wished))
        except ValueError as exc:
            raise InvalidRequest(str(exc), field="wishedChannel") from None
    if body.get("mobilePhone") and not body.get("email"):
        return Channel.SMS
    return Channel.EMAIL


def _element(event_type: str, body: dict[str, Any]) -> etree._Element:
    ctx = body.get("ctx")
    if not isinstance(ctx, dict):
        raise InvalidRequest("ctx is required and must be a JSON object", field="ctx")
    element = etree.Element("rtEvent", type=event_type, wishedChannel=str(int(_channel(body))))
    for name in (
        "email",
        "mobilePhone",
        "externalId",
        "scheduled",
        "expiration",
        *_PUSH_TOKEN_FIELDS,
    ):
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRequest(f"{name} must be a string", field=name)
        element.set(name, require_xml_text(value, field=name))
    app = body.get("mobileApp")
    if isinstance(app, dict) and isinstance(app.get("uuid"), str):
        uuid = require_xml_text(app["uuid"], field="mobileApp.uuid")
        etree.SubElement(element, "mobileApp", uuid=uuid)
    element.append(json_to_ctx(ctx))
    return element


def _digest(event_id: str, body: dict[str, Any]) -> str:
    canonical = json.dumps([event_id, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate(state: ExecutionState, request: EventRequest) -> EventIn:
    event_type = _event_type(state, request.org, request.api, request.event_id)
    element = _element(event_type, request.body)
    state.intake.check_capacity(1)
    return read_event(element, queue=Queue.REALTIME, known_types={event_type}, limits=state.limits)


def _find_idempotent(state: ExecutionState, key: str) -> Event | None:
    with state.db.transaction() as session:
        return session.execute(
            select(Event).where(Event.idempotency_key == key)
        ).scalar_one_or_none()


def _release_stale_key(state: ExecutionState, key: str) -> None:
    with state.db.transaction(write=True) as session:
        session.execute(
            update(Event)
            .where(Event.idempotency_key == key)
            # Not a change of the event (the statistics count a finished one once).
            .values(idempotency_key=None, updated_at=Event.updated_at)
        )


def _replay(existing: Event, digest: str) -> StoredEvent:
    if existing.request_digest != digest:
        raise Conflict(
            "this Idempotency-Key was already used with a different request",
            detail="use a new key for a new event",
            field="Idempotency-Key",
        )
    return StoredEvent(existing, replayed=True)


def check_idempotency(state: ExecutionState, key: str, digest: str) -> StoredEvent | None:
    """Return the event a key already created (within 24 h), or None to create one."""
    existing = _find_idempotent(state, key)
    if existing is None:
        return None
    if existing.created_at < utc_now() - IDEMPOTENCY_WINDOW:
        _release_stale_key(state, key)
        return None
    return _replay(existing, digest)


async def submit_event(
    state: ExecutionState, request: EventRequest, credentials: Credentials
) -> StoredEvent:
    """Validate and store one REST event; a repeated Idempotency-Key returns the first one.

    Authenticated from memory when the caches can answer, validated on the event loop as SOAP
    events are (tens of microseconds, bounded by the ctx's size limit), and answered from the
    values stored, not read back: the only thread hop is the idempotency key's look-up.
    """
    await state.security.authenticate_async(credentials)
    event = _validate(state, request)
    idempotency = None
    if request.idempotency_key is not None:
        digest = _digest(request.event_id, request.body)
        earlier = await run_in_threadpool(check_idempotency, state, request.idempotency_key, digest)
        if earlier is not None:
            return earlier
        idempotency = (request.idempotency_key, digest)
    now = utc_now()
    try:
        (event_pl_id,) = await state.intake.push(
            [event], source="rest", idempotency=idempotency, now=now
        )
    except IntegrityError:
        assert idempotency is not None  # only the idempotency key is unique
        raced = await run_in_threadpool(_find_idempotent, state, idempotency[0])
        if raced is None:
            raise
        return _replay(raced, idempotency[1])
    _, pk = split_pl_id(event_pl_id)
    return StoredEvent(Event(id=pk, **event_row(event, now=now, source="rest")))


def get_event(
    state: ExecutionState, *, org: str, api: str, event_id: str, pkey: str, credentials: Credentials
) -> StoredEvent:
    """Return the event behind an ``href``, with its current status."""
    state.security.authenticate(credentials)
    event_type = _event_type(state, org, api, event_id)
    if not ascii_digits(pkey.removeprefix("-")):
        raise NotFound(f"{pkey!r} is not an event PKey")
    instance, pk = split_pl_id(int(pkey))
    if instance != state.identity.value:
        raise NotFound(
            f"event {pkey} is held by execution instance {instance}, "
            f"not by instance {state.identity.value}",
            detail="read it through the load balancer, which routes it to its instance",
        )
    with state.db.transaction() as session:
        row = session.get(Event, pk)
    if row is None or row.event_type != event_type:
        raise NotFound(f"no event {pkey} for {event_id}")
    return StoredEvent(row)


def parse_status(name: str) -> EventStatus:
    """Return the status of a REST name (``deliveryFailed``), or raise InvalidRequest."""
    for status in EventStatus:
        if status.rest_name == name:
            return status
    names = ", ".join(status.rest_name for status in EventStatus)
    raise InvalidRequest(f"{name!r} is not an event status: use one of {names}", field="until")


def _reached(status: int, until: EventStatus | None) -> bool:
    if until is None:
        return status not in _IN_PROGRESS
    return status == until or status in FINAL


async def wait_for_event(
    state: ExecutionState,
    *,
    org: str,
    api: str,
    event_id: str,
    pkey: str,
    credentials: Credentials,
    wait: float,
    until: EventStatus | None = None,
) -> StoredEvent:
    """Return the event behind an ``href`` once its status is ``until`` (or final), or, without
    ``until``, once it is neither pending nor processing; at most ``wait`` seconds later."""
    stored = await run_in_threadpool(
        lambda: get_event(
            state, org=org, api=api, event_id=event_id, pkey=pkey, credentials=credentials
        )
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    with stream_stop() as stop:  # the server stopping answers the status as it is
        while not _reached(stored.row.status, until):
            left = deadline - loop.time()
            if left <= 0 or await wait_any(stop, seconds=min(WAIT_POLL_SECONDS, left)):
                break
            row = await run_in_threadpool(_reload, state, stored.row.id)
            if row is None:  # deleted meanwhile (a reset)
                raise NotFound(f"no event {pkey} for {event_id}")
            stored = StoredEvent(row)
    return stored


def _reload(state: ExecutionState, pk: int) -> Event | None:
    with state.db.transaction() as session:
        return session.get(Event, pk)


def event_resource(state: ExecutionState, stored: StoredEvent) -> dict[str, Any]:
    """Return the JSON the REST API shows for an event (v8 echoes the submitted values)."""
    row = stored.row
    settings = state.settings
    document = etree.fromstring(row.document)
    ctx = document.find("ctx")
    pkey = str(pl_id(state.identity.value, row.id))
    api = "mc" + settings.organization
    return {
        "PKey": pkey,
        "href": f"{api}/EVT{row.event_type}/{pkey}",
        "serverUrl": settings.resolved_public_url,
        "status": EventStatus(row.status).rest_name,
        "type": row.event_type,
        "email": row.email or "",
        "mobilePhone": row.mobile_phone or "",
        "wishedChannel": row.wished_channel,
        "externalId": row.external_id or "",
        "scheduled": format_xtk(row.scheduled) if row.scheduled else None,
        "expiration": format_xtk(row.expiration) if row.expiration else None,
        "created": format_xtk(row.created_at),
        "processed": format_xtk(row.processed_at) if row.processed_at else None,
        "failureReason": row.failure_reason,
        "error": row.error_text,
        "ctx": ctx_to_json(ctx) if ctx is not None else {},
    }
