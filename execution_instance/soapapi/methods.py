"""Each SOAP method of the execution instance: authenticate, validate, call one use case.

Blocking work (database reads, argon2) runs in the thread pool in one hop; storing events goes
through the group-commit writer. Validating events runs on the event loop's thread, even for
1,000 events (~7 ms): it holds the GIL wherever it runs, and handing it to the thread pool cost
PushEvents(100) a third of its throughput in GIL hand-offs between the pool, the loop and the
writer (futex calls were a third of the process's CPU).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from execution_instance.intake.channels import Queue
from execution_instance.intake.documents import EventIn, read_event, read_event_collection
from execution_instance.security.service import Credentials
from execution_instance.state import ExecutionState
from services.errors import InvalidRequest
from services.soap.envelope import Output, SoapCall, SoapReply, render_response
from services.soap.session import logon_outputs

__all__ = ["METHODS", "CallContext", "Handler"]


@dataclass(frozen=True)
class CallContext:
    """What a method needs besides the call: the instance and the caller's credentials."""

    state: ExecutionState
    credentials: Credentials


Handler = Callable[[SoapCall, CallContext], Awaitable[SoapReply]]


def _reply(call: SoapCall, *outputs: Output) -> SoapReply:
    return render_response(call.service, call.method, outputs, version=call.version)


async def logon(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#Logon(sessiontoken, strLogin, strPassword, elemParameters)``."""
    login, password = call.text(1).strip(), call.text(2)
    if not login:
        raise InvalidRequest("strLogin is empty", field="strLogin")
    state = context.state
    opened = await run_in_threadpool(
        state.security.logon, address=context.credentials.address, login=login, password=password
    )
    outputs = logon_outputs(
        session_token=opened.session_token,
        security_token=opened.security_token,
        login=opened.login,
        ttl_seconds=state.settings.session_ttl_seconds,
        instance_name=f"mcsim_exec{state.identity.value}",
        right="messageCenter",
    )
    return _reply(call, *outputs)


async def logoff(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#Logoff(sessiontoken)``: close the caller's session."""
    credentials = context.credentials
    security = context.state.security
    await run_in_threadpool(security.authenticate, credentials)
    token = credentials.cookie_token or credentials.body_token.strip()
    if token.startswith("___"):
        await run_in_threadpool(security.logoff, token=token)
    return _reply(call)


async def get_server_time(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#GetServerTime()``: anonymous, but only from a security zone."""
    context.state.security.zone_of(context.credentials.address)
    return _reply(call, Output.timestamp("ptmServerTime", datetime.now(UTC)))


def _queue(call: SoapCall) -> Queue:
    return Queue.BATCH if call.service == "nms:batchEvent" else Queue.REALTIME


def _validate_one(call: SoapCall, state: ExecutionState) -> list[EventIn]:
    state.intake.check_capacity(1)
    element = call.document(1)
    if element is None:
        raise InvalidRequest(
            "the event is missing: the second parameter (domEvent) must hold "
            f"<{_queue(call).element} type=… ><ctx/></{_queue(call).element}>",
            field="domEvent",
        )
    known = state.intake.known_types()
    return [read_event(element, queue=_queue(call), known_types=known, limits=state.limits)]


def _validate_many(call: SoapCall, state: ExecutionState) -> list[EventIn]:
    if len(call.params) < 2:
        raise InvalidRequest(
            "the events are missing: the second parameter (domEventCollection) must hold them",
            field="domEventCollection",
        )
    events = read_event_collection(
        call.params[1],
        queue=_queue(call),
        known_types=state.intake.known_types(),
        limits=state.limits,
    )
    state.intake.check_capacity(len(events))
    return events


async def push_event(call: SoapCall, context: CallContext) -> SoapReply:
    """``PushEvent(sessiontoken, domEvent)`` → ``plId``, once the event is committed."""
    state = context.state
    await state.security.authenticate_async(context.credentials)
    events = _validate_one(call, state)  # a few tens of microseconds: no thread hop
    (event_id,) = await state.intake.push(events, source="soap")
    return _reply(call, Output.long("plId", event_id))


async def push_events(call: SoapCall, context: CallContext) -> SoapReply:
    """``PushEvents(sessiontoken, domEventCollection)`` → one ``plId`` per event, in order."""
    state = context.state
    await state.security.authenticate_async(context.credentials)
    events = _validate_many(call, state)  # on the loop: see the module's docstring
    ids = await state.intake.push(events, source="soap")
    return _reply(call, *Output.longs("plId", ids))


METHODS: dict[tuple[str, str], Handler] = {
    ("xtk:session", "Logon"): logon,
    ("xtk:session", "Logoff"): logoff,
    ("xtk:session", "GetServerTime"): get_server_time,
    ("nms:rtEvent", "PushEvent"): push_event,
    ("nms:rtEvent", "PushEvents"): push_events,
    ("nms:batchEvent", "PushEvent"): push_event,
    ("nms:batchEvent", "PushEvents"): push_events,
}
