"""``xtk:session`` as every mcsim SOAP service answers it: Logon, Logoff and the session calls.

The execution instance and the mid-sourcing server each wrap these in their own handler (their
call context and their caller differ); what they answer is written once, here. Answers follow
what Adobe's JS SDK reads (acc-js-sdk-wire §3.2, §5.2, §8): ``sessionInfo`` holds both
``serverInfo`` and ``userInfo``, scalars are never padded with whitespace, unknown options are an
empty value of type 0.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from lxml import etree
from starlette.concurrency import run_in_threadpool

from services.auth.security import Credentials, Logon, OperatorSecurity
from services.clock import utc_now
from services.errors import InvalidRequest
from services.soap.envelope import Output, SoapCall, SoapReply, render_response
from services.soap.persist import get_entity_if_more_recent
from services.version import VERSION
from services.xtk import xtk_now

__all__ = [
    "BUILD_NUMBER",
    "ServerInfo",
    "caller_methods",
    "database_id",
    "get_modified_entities",
    "get_option",
    "get_server_time",
    "get_user_info",
    "logoff",
    "logon",
    "logon_outputs",
    "session_info",
]

#: ``serverInfo/@buildNumber``, ``/r/test``'s ``build`` and ``NmsServer_LastPostUpgrade``.
BUILD_NUMBER = "mcsim"
#: ``xtk:session#GetOption`` types (``pbtType``): 0 for an unknown option, 6 for a string.
OPTION_UNKNOWN, OPTION_STRING = 0, 6


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What a service says about itself in ``serverInfo`` and its options."""

    instance_name: str
    right: str
    ttl_seconds: int
    database_id: str


@functools.cache
def database_id(database_url: str) -> str:
    """Return a stable id of the database at ``database_url``, Campaign-style: ``u`` + hex."""
    return "u" + hashlib.sha1(database_url.encode(), usedforsecurity=False).hexdigest().upper()


def _user_info(parent: etree._Element, server: ServerInfo, login: str) -> etree._Element:
    user = etree.SubElement(
        parent, "userInfo", login=login, loginId="0", locale="en", timezone="UTC"
    )
    etree.SubElement(user, "login-right", right=server.right)
    return user


def session_info(server: ServerInfo, login: str) -> etree._Element:
    """Return ``<sessionInfo>`` with its ``serverInfo`` and ``userInfo`` (campaign-facts §2.1)."""
    ttl = str(server.ttl_seconds)
    info = etree.Element("sessionInfo")
    etree.SubElement(
        info,
        "serverInfo",
        buildNumber=BUILD_NUMBER,
        buildVersion=VERSION,
        databaseId=server.database_id,
        instanceName=server.instance_name,
        securityTimeOut=ttl,
        sessionTimeOut=ttl,
        serverDate=xtk_now(),
    )
    _user_info(info, server, login)
    return info


def logon_outputs(opened: Logon, server: ServerInfo) -> list[Output]:
    """Return the session token, the session info and the security token, in that order."""
    return [
        Output.string("pstrSessionToken", opened.session_token),
        Output.xml("pSessionInfo", session_info(server, opened.login)),
        Output.string("pstrSecurityToken", opened.security_token),
    ]


def _reply(call: SoapCall, *outputs: Output) -> SoapReply:
    return render_response(call.service, call.method, outputs, version=call.version)


async def logon(
    call: SoapCall, *, security: OperatorSecurity[Any, Any], address: str | None, server: ServerInfo
) -> SoapReply:
    """``xtk:session#Logon(sessiontoken, strLogin, strPassword, elemParameters)``."""
    login, password = call.text(1).strip(), call.text(2)
    if not login:
        raise InvalidRequest("strLogin is empty", field="strLogin")
    opened = await run_in_threadpool(
        security.logon, address=address, login=login, password=password
    )
    return _reply(call, *logon_outputs(opened, server))


async def logoff(
    call: SoapCall, *, security: OperatorSecurity[Any, Any], credentials: Credentials
) -> SoapReply:
    """``xtk:session#Logoff(sessiontoken)``: close the caller's session, if it has one."""
    await security.authenticate_async(credentials)
    token = credentials.cookie_token or credentials.body_token.strip()
    if token.startswith("___"):
        await run_in_threadpool(security.logoff, token=token)
    return _reply(call)


def get_server_time(
    call: SoapCall, *, security: OperatorSecurity[Any, Any], address: str | None
) -> SoapReply:
    """``xtk:session#GetServerTime()``: anonymous, but only from a security zone."""
    security.zone_of(address)
    return _reply(call, Output.timestamp("ptmServerTime", utc_now()))


def get_user_info(call: SoapCall, *, login: str, server: ServerInfo) -> SoapReply:
    """``xtk:session#GetUserInfo()`` → ``pUserInfo``: the authenticated caller's ``userInfo``."""
    holder = etree.Element("holder")
    return _reply(call, Output.xml("pUserInfo", _user_info(holder, server, login)))


def get_option(call: SoapCall, *, server: ServerInfo) -> SoapReply:
    """``xtk:session#GetOption(strName)`` → ``pstrValue``, ``pbtType`` (unknown: "" and 0)."""
    options = {"XtkDatabaseId": server.database_id, "NmsServer_LastPostUpgrade": BUILD_NUMBER}
    value = options.get(call.text(1).strip())
    return _reply(
        call,
        Output.string("pstrValue", value or ""),
        Output.byte("pbtType", OPTION_UNKNOWN if value is None else OPTION_STRING),
    )


def get_modified_entities(call: SoapCall) -> SoapReply:
    """``xtk:session#GetModifiedEntities(cacheEntities)``: mcsim's schemas never change."""
    now = utc_now()
    cache = etree.Element(
        "cache",
        buildNumber=BUILD_NUMBER,
        time=now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
    )
    return _reply(call, Output.xml("pdomDirtyEntities", cache))


C = TypeVar("C")
#: Authenticate a call's caller; return its login and what the service says of itself.
Identify = Callable[[C], Awaitable[tuple[str, ServerInfo]]]


def caller_methods(
    identify: Identify[C], *, schemas: Collection[str]
) -> dict[tuple[str, str], Callable[[SoapCall, C], Awaitable[SoapReply]]]:
    """Return the methods that need only an authenticated caller, for a service's METHODS.

    ``xtk:session`` GetUserInfo, GetOption, GetModifiedEntities and ``xtk:persist``
    GetEntityIfMoreRecent (over ``schemas``): every service answers them alike once it knows
    who calls (``identify`` takes the service's call context).
    """

    async def user_info(call: SoapCall, context: C) -> SoapReply:
        login, server = await identify(context)
        return get_user_info(call, login=login, server=server)

    async def option(call: SoapCall, context: C) -> SoapReply:
        _, server = await identify(context)
        return get_option(call, server=server)

    async def modified_entities(call: SoapCall, context: C) -> SoapReply:
        await identify(context)
        return get_modified_entities(call)

    async def entity(call: SoapCall, context: C) -> SoapReply:
        await identify(context)
        return get_entity_if_more_recent(call, available=schemas)

    return {
        ("xtk:session", "GetUserInfo"): user_info,
        ("xtk:session", "GetOption"): option,
        ("xtk:session", "GetModifiedEntities"): modified_entities,
        ("xtk:persist", "GetEntityIfMoreRecent"): entity,
    }
