"""What every SOAP router of mcsim shares: reading the call, its tokens, Campaign's wording.

A call is read only when no browser could have sent it cross-site without a CORS preflight
(review F8): its ``Content-Type`` must be a SOAP type (``text/xml``, as zeep, suds, .NET, Java
and SoapUI send for SOAP 1.1, or ``application/soap+xml``, as SOAP 1.2 clients and Adobe's JS
SDK send) — a page can post ``text/plain`` and the form types without asking, these two only
after a preflight, which mcsim never grants — and an ``Origin`` or ``Sec-Fetch-Site`` that
names another site is refused. Clients that are not browsers send neither header.

A request without any ``Content-Type`` is still read (hand-written clients and scripts post
bare XML): a browser sends one without a type only from ``fetch``/``sendBeacon``, and those
always carry ``Origin``, which must then be this site.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from lxml import etree
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from services.bodies import read_body
from services.db import DatabaseError
from services.errors import (
    AuthenticationFailed,
    Forbidden,
    InvalidRequest,
    McsimError,
    SessionExpired,
    UnknownMethod,
    UnsupportedMediaType,
)
from services.soap.envelope import SoapCall, SoapReply, SoapVersion, read_call, render_fault

__all__ = [
    "SOAP_MEDIA_TYPES",
    "answer_soap_call",
    "bearer_token",
    "campaign_wording",
    "read_soap_call",
    "refuse_cross_site",
    "session_tokens",
    "unknown_method",
]

#: The media types of a SOAP request; a browser sends neither cross-site without a preflight.
SOAP_MEDIA_TYPES = frozenset({"text/xml", "application/soap+xml"})

H = TypeVar("H")

_KNOWN_TYPES: dict[str, bool] = {}  # Content-Type value -> SOAP or not; a few values in practice
_MAX_KNOWN_TYPES = 256


async def read_soap_call(request: Request, *, max_bytes: int, max_depth: int) -> SoapCall:
    """Read the body (never more than ``max_bytes``) and parse the SOAP call it holds."""
    headers = request.headers
    content_type = headers.get("content-type")
    refuse_cross_site(headers, content_type=content_type)
    body = await read_body(request, max_bytes=max_bytes)
    # Parsing the query string costs more than the header: only when there is one.
    query = request.query_params.get("soapAction") if request.scope["query_string"] else None
    return read_call(
        body,
        soap_action=headers.get("soapaction"),
        content_type=content_type,
        query_action=query,
        max_bytes=max_bytes,
        max_depth=max_depth,
    )


def refuse_cross_site(headers: Mapping[str, str], *, content_type: str | None) -> None:
    """Raise unless the request is one a browser could not have sent from another site.

    ``headers`` are the request's (lower-case names); an ``Origin`` naming its ``Host`` or
    ``X-Forwarded-Host`` (the load balancer's) is this site's own.
    """
    if content_type is not None and not _is_soap_type(content_type):
        raise UnsupportedMediaType(
            "The request is not a SOAP call: its Content-Type must be text/xml or "
            "application/soap+xml.",
            detail=f"Content-Type: {content_type}",
        )
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() == "cross-site":
        raise Forbidden("Cross-site requests are refused.", detail="Sec-Fetch-Site: cross-site")
    origin = headers.get("origin")
    if origin is not None and not _same_origin(
        origin, (headers.get("host"), headers.get("x-forwarded-host"))
    ):
        raise Forbidden("Cross-site requests are refused.", detail=f"Origin: {origin}")


def _is_soap_type(content_type: str) -> bool:
    known = _KNOWN_TYPES.get(content_type)
    if known is None:
        known = content_type.partition(";")[0].strip().lower() in SOAP_MEDIA_TYPES
        if len(_KNOWN_TYPES) < _MAX_KNOWN_TYPES:
            _KNOWN_TYPES[content_type] = known
    return known


def _same_origin(origin: str, hosts: tuple[str | None, ...]) -> bool:
    # "null" (sandboxed frames, file: pages) names no site: never this one.
    scheme, sep, authority = origin.strip().lower().partition("://")
    if not sep or scheme not in ("http", "https") or not authority:
        return False
    return any(
        host is not None and host.strip().lower() == authority
        for value in hosts
        if value
        for host in value.split(",")
    )


def unknown_method(call: SoapCall, known: Iterable[tuple[str, str]]) -> UnknownMethod:
    """Return Campaign's SOP-330006 fault for a method this router does not have."""
    return UnknownMethod(
        f"The method '{call.method}' is not defined in SOAP service '{call.service}'.",
        detail="known methods: " + ", ".join(f"{s}#{m}" for s, m in sorted(known)),
    )


def session_tokens(request: Request, call: SoapCall) -> tuple[str | None, str | None]:
    """Return the session token and the security token sent beside ``<sessiontoken>``.

    Campaign clients send ``Cookie: __sessiontoken=…`` and ``X-Security-Token``; Adobe's JS SDK
    also sends ``X-Session-Token``, and repeats the cookie and the security token as elements of
    ``SOAP-ENV:Header``. Empty values are absent ones.
    """
    headers = request.headers
    cookie = (request.cookies.get("__sessiontoken") or headers.get("x-session-token") or "").strip()
    security = (headers.get("x-security-token") or "").strip()
    if call.header is not None and not (cookie and security):
        for element in call.header:
            if not isinstance(element.tag, str):
                continue
            name, text = etree.QName(element).localname, (element.text or "").strip()
            if name == "X-Security-Token" and not security and text:
                security = text
            elif name == "Cookie" and not cookie and "__sessiontoken=" in text:
                cookie = text.split("__sessiontoken=", 1)[1].split(";", 1)[0].strip()
    return cookie or None, security or None


def campaign_wording(error: McsimError, call: SoapCall | None) -> McsimError:
    """Word faults as Campaign does: a generic faultstring, the precise reason in detail."""
    if call is None or isinstance(error, SessionExpired | UnknownMethod):
        return error
    reason = (
        error.message
        if error.detail in (None, error.message)
        else f"{error.message} ({error.detail})"
    )
    if isinstance(error, AuthenticationFailed):
        return type(error)(
            f"Error while reading parameters of method '{call.method}' of service "
            f"'{call.service}'.",
            detail=reason,
            field=error.field,
        )
    if type(error) is InvalidRequest:
        return InvalidRequest(
            f"SOP-330011 Error while executing the method '{call.method}' of service "
            f"'{call.service}'.",
            detail=reason,
            field=error.field,
        )
    return error


async def answer_soap_call(
    request: Request,
    methods: Mapping[tuple[str, str], H],
    invoke: Callable[[H, SoapCall], Awaitable[SoapReply]],
    *,
    max_bytes: int,
    max_depth: int,
    log: logging.Logger,
    database_unavailable: str | None = None,
) -> Response:
    """Read the envelope, find its method in ``methods``, ``invoke`` it, answer it or a Fault.

    With ``database_unavailable`` a database error is answered as that fault (a caller that
    retries, as an execution instance handing over a part, then tries again later).
    """
    version = SoapVersion.SOAP11
    call: SoapCall | None = None
    try:
        call = await read_soap_call(request, max_bytes=max_bytes, max_depth=max_depth)
        version = call.version
        handler = methods.get((call.service, call.method))
        if handler is None:
            raise unknown_method(call, methods)
        reply = await invoke(handler, call)
    except SQLAlchemyError as exc:
        if database_unavailable is None:
            raise
        log.warning("database error in a SOAP call", exc_info=True)
        unavailable = DatabaseError(database_unavailable, detail=type(exc).__name__)
        reply = render_fault(unavailable, version=version)
    except McsimError as error:
        shown = campaign_wording(error, call)
        log.info("fault %s", shown.fault_string, extra={"action": call.action if call else None})
        reply = render_fault(shown, version=version)
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


def bearer_token(request: Request) -> str | None:
    """Return the token of ``Authorization: Bearer …``, or None."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    token = value.strip()
    return token if token and scheme.lower() == "bearer" else None
