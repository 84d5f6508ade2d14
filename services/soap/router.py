"""What every SOAP router of mcsim shares: reading the call, its tokens, Campaign's wording."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree
from starlette.requests import Request

from services.bodies import read_body
from services.errors import (
    AuthenticationFailed,
    InvalidRequest,
    McsimError,
    SessionExpired,
    UnknownMethod,
)
from services.soap.envelope import SoapCall, read_call

__all__ = ["campaign_wording", "read_soap_call", "session_tokens", "unknown_method"]


async def read_soap_call(request: Request, *, max_bytes: int, max_depth: int) -> SoapCall:
    """Read the body (never more than ``max_bytes``) and parse the SOAP call it holds."""
    body = await read_body(request, max_bytes=max_bytes)
    # Parsing the query string costs more than the header: only when there is one.
    query = request.query_params.get("soapAction") if request.scope["query_string"] else None
    return read_call(
        body,
        soap_action=request.headers.get("soapaction"),
        content_type=request.headers.get("content-type"),
        query_action=query,
        max_bytes=max_bytes,
        max_depth=max_depth,
    )


def unknown_method(call: SoapCall, known: Iterable[tuple[str, str]]) -> UnknownMethod:
    """Return Campaign's SOP-330006 fault for a method this router does not have."""
    return UnknownMethod(
        f"The method '{call.method}' is not defined in SOAP service '{call.service}'.",
        detail="known methods: " + ", ".join(f"{s}#{m}" for s, m in sorted(known)),
    )


def session_tokens(request: Request, call: SoapCall) -> tuple[str | None, str | None]:
    """Return the session cookie and the security token, from HTTP or from the SOAP Header.

    Campaign clients send ``Cookie: __sessiontoken=…`` and ``X-Security-Token``; the JS SDK
    repeats both as elements of ``SOAP-ENV:Header``.
    """
    cookie = request.cookies.get("__sessiontoken")
    security = request.headers.get("x-security-token")
    if call.header is not None:
        for element in call.header:
            if not isinstance(element.tag, str):
                continue
            name, text = etree.QName(element).localname, (element.text or "").strip()
            if name == "X-Security-Token" and security is None and text:
                security = text
            elif name == "Cookie" and cookie is None and "__sessiontoken=" in text:
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
