"""Each SOAP method of the mid-sourcing server: authenticate, read the parameters, call a use case.

``AppendDeliveryPart`` answers ``fatalError`` 1 with a message for a part that can never be
accepted as it is (malformed, too big): Campaign's callers must not retry those. Everything
the caller may retry (authentication, database unavailable) is a SOAP Fault instead.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from midsourcing.delivery.repository import Claimed
from midsourcing.logs.service import read_delivery_logs
from midsourcing.parts.service import PartRefused, append_delivery_part, check_part
from midsourcing.security.service import Credentials
from midsourcing.state import MidState
from services.auth.security import DENIED
from services.clock import utc_now
from services.delivery_protocol import parse_delivery_part, render_delivery_logs
from services.errors import AuthenticationFailed, InvalidRequest
from services.soap import session
from services.soap.envelope import Output, SoapCall, SoapReply, render_response
from services.soap.session import ServerInfo, database_id

__all__ = [
    "DEFAULT_LOG_LIMIT",
    "FATAL_MALFORMED_PART",
    "METHODS",
    "SCHEMAS",
    "CallContext",
    "Handler",
]

#: The schemas whose compiled form GetEntityIfMoreRecent gives here.
SCHEMAS = ("xtk:session", "nms:delivery", "xtk:persist")

log = logging.getLogger("mcsim.mid.soap")

#: ``fatalError`` of a part that can never be accepted as sent.
FATAL_MALFORMED_PART = 1
#: Logs returned by GetDeliveryLogs when the caller gives no limit.
DEFAULT_LOG_LIMIT = 500


@dataclass(frozen=True)
class CallContext:
    """What a method needs besides the call: the server and the caller's credentials."""

    state: MidState
    credentials: Credentials


Handler = Callable[[SoapCall, CallContext], Awaitable[SoapReply]]


def _reply(call: SoapCall, *outputs: Output) -> SoapReply:
    return render_response(call.service, call.method, outputs, version=call.version)


def _server(state: MidState) -> ServerInfo:
    return ServerInfo(
        instance_name="mcsim_mid",
        right="midSourcing",
        ttl_seconds=state.settings.session_ttl_seconds,
        database_id=database_id(state.settings.resolved_database_url()),
    )


async def logon(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#Logon(sessiontoken, strLogin, strPassword, elemParameters)``."""
    state = context.state
    return await session.logon(
        call, security=state.security, address=context.credentials.address, server=_server(state)
    )


async def bearer_token_logon(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#BearerTokenLogon``: refused, mid-sourcing has no technical tokens."""
    context.state.security.zone_of(context.credentials.address)
    raise AuthenticationFailed(
        DENIED,
        detail="the mid-sourcing server accepts no bearer tokens: call xtk:session#Logon or "
        "send login/password in <sessiontoken>",
    )


async def logoff(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#Logoff(sessiontoken)``: close the caller's session."""
    security = context.state.security
    return await session.logoff(call, security=security, credentials=context.credentials)


async def get_server_time(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#GetServerTime()``: anonymous, but only from a security zone."""
    security = context.state.security
    return session.get_server_time(call, security=security, address=context.credentials.address)


async def _identify(context: CallContext) -> tuple[str, ServerInfo]:
    login = await context.state.security.authenticate_async(context.credentials)
    return login, _server(context.state)


def _fatal(call: SoapCall, message: str) -> SoapReply:
    return _reply(
        call,
        Output.long("deliveryPartId", 0),
        Output.integer("fatalError", FATAL_MALFORMED_PART),
        Output.string("fatalErrorMsg", message),
    )


async def append_part(call: SoapCall, context: CallContext) -> SoapReply:
    """``AppendDeliveryPart(sessiontoken, deliveryPart, retry)`` → id, fatalError, message."""
    state = context.state
    await state.security.authenticate_async(context.credentials)
    element = call.document(1)
    if element is None:
        return _fatal(call, "deliveryPart is empty: it must hold a <deliveryPart> element")
    try:
        part = parse_delivery_part(element)
        check_part(part, max_messages=state.settings.max_messages_per_part)
    except (ValueError, PartRefused) as exc:
        return _fatal(call, f"the delivery part is malformed: {exc}")
    # Free delivery slots take the part's messages at once, in its own transaction (SQLite).
    reserved = state.dispatcher.reserve(len(part.messages))
    claimed: Sequence[Claimed] = ()
    try:
        accepted = await run_in_threadpool(
            append_delivery_part, db=state.db, part=part, now=utc_now(), claim=reserved
        )
        claimed = accepted.claimed
    finally:
        await state.dispatcher.adopt(reserved, claimed)
    if accepted.queued > len(claimed):
        state.dispatcher.wake()
    if accepted.queued:
        state.feed.changed()
    retry = call.text(2).strip().lower() in {"true", "1"}
    # One line per part is one line per event at a steady trickle: a first, whole hand-over
    # is logged at DEBUG, as the SOAP calls of the fast paths are; a retry or a part holding
    # messages seen before at INFO.
    log.log(
        logging.INFO if retry or accepted.duplicates else logging.DEBUG,
        "delivery part accepted",
        extra={
            "part": part.id,
            "delivery_part_id": accepted.delivery_part_id,
            "queued": accepted.queued,
            "duplicates": accepted.duplicates,
            "retry": retry,
        },
    )
    return _reply(
        call,
        Output.long("deliveryPartId", accepted.delivery_part_id),
        Output.integer("fatalError", 0),
        Output.string("fatalErrorMsg", ""),
    )


def _optional_int(call: SoapCall, index: int, name: str) -> int | None:
    value = call.text(index).strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer, got {value!r}", field=name) from None


async def get_logs(call: SoapCall, context: CallContext) -> SoapReply:
    """``GetDeliveryLogs(sessiontoken, cursor, limit[, instanceId])`` → logs, nextCursor."""
    state = context.state
    await state.security.authenticate_async(context.credentials)
    limit = _optional_int(call, 2, "limit") or DEFAULT_LOG_LIMIT
    if limit < 0:
        raise InvalidRequest("limit must not be negative", field="limit")
    instance = _optional_int(call, 3, "instanceId")
    page = await run_in_threadpool(
        read_delivery_logs,
        db=state.db,
        cursor=call.text(1),
        limit=min(limit, state.settings.max_logs_per_call),
        instance=instance,
    )
    return _reply(
        call,
        Output.xml("deliveryLogs", render_delivery_logs(page.logs)),
        Output.string("nextCursor", page.next_cursor),
    )


METHODS: dict[tuple[str, str], Handler] = {
    ("xtk:session", "Logon"): logon,
    ("xtk:session", "Logoff"): logoff,
    ("xtk:session", "GetServerTime"): get_server_time,
    ("nms:delivery", "AppendDeliveryPart"): append_part,
    ("nms:delivery", "GetDeliveryLogs"): get_logs,
    ("xtk:session", "BearerTokenLogon"): bearer_token_logon,
    **session.caller_methods(_identify, schemas=SCHEMAS),
}
