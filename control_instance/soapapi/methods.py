"""Each SOAP method of the control instance: authenticate the operator, answer one use case.

What ``xtk:session`` answers is written once in :mod:`services.soap.session`; here only the
control instance's own parts: its operators (through its auth service and login throttle),
its ``serverInfo``, and the schemas it lets ``xtk:queryDef#ExecuteQuery`` read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from control_instance.soapapi import security
from control_instance.soapapi.queries import build_schemas
from control_instance.soapapi.security import SoapCredentials
from control_instance.state import ControlState
from services.clock import utc_now
from services.errors import InvalidRequest
from services.soap import session
from services.soap.envelope import Output, SoapCall, SoapReply, render_response
from services.soap.session import ServerInfo, database_id
from services.xtk_query import query_element, run_query

__all__ = ["METHODS", "SCHEMAS", "CallContext", "Handler"]

#: The schemas the control instance serves: their WSDLs and compiled schemas.
SCHEMAS = ("xtk:session", "xtk:persist", "xtk:queryDef")


@dataclass(frozen=True)
class CallContext:
    """What a method needs besides the call: the control instance and the caller's credentials."""

    state: ControlState
    credentials: SoapCredentials


Handler = Callable[[SoapCall, CallContext], Awaitable[SoapReply]]


def _reply(call: SoapCall, *outputs: Output) -> SoapReply:
    return render_response(call.service, call.method, outputs, version=call.version)


def _server(state: ControlState, *, right: str) -> ServerInfo:
    # userInfo/login-right is the operator's role: admin, editor or viewer.
    return ServerInfo(
        instance_name="mcsim_control",
        right=right,
        ttl_seconds=state.settings.session_ttl_seconds,
        database_id=database_id(state.settings.resolved_database_url()),
    )


async def logon(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#Logon(sessiontoken, strLogin, strPassword, elemParameters)``."""
    login, password = call.text(1).strip(), call.text(2)
    if not login:
        raise InvalidRequest("strLogin is empty", field="strLogin")
    state, address = context.state, context.credentials.address
    opened, role = await run_in_threadpool(
        lambda: security.logon(state, address=address, login=login, password=password)
    )
    return _reply(call, *session.logon_outputs(opened, _server(state, right=role)))


async def logoff(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#Logoff(sessiontoken)``: close the caller's Logon session, if it used one."""
    caller = await security.authenticate(context.state, context.credentials)
    await security.close_session(context.state, caller)
    return _reply(call)


async def get_server_time(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:session#GetServerTime()``: anonymous."""
    return _reply(call, Output.timestamp("ptmServerTime", utc_now()))


async def _identify(context: CallContext) -> tuple[str, ServerInfo]:
    caller = await security.authenticate(context.state, context.credentials)
    return caller.login, _server(context.state, right=caller.role)


async def execute_query(call: SoapCall, context: CallContext) -> SoapReply:
    """``xtk:queryDef#ExecuteQuery(sessiontoken, document)`` → ``pdomOutput``."""
    state = context.state
    await security.authenticate(state, context.credentials)
    output = await run_in_threadpool(run_query, state.db, query_element(call), build_schemas())
    return _reply(call, output)


METHODS: dict[tuple[str, str], Handler] = {
    ("xtk:session", "Logon"): logon,
    ("xtk:session", "Logoff"): logoff,
    ("xtk:session", "GetServerTime"): get_server_time,
    ("xtk:queryDef", "ExecuteQuery"): execute_query,
    **session.caller_methods(_identify, schemas=SCHEMAS),
}
