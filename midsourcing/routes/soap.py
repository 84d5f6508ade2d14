"""The SOAP router of the mid-sourcing server: ``POST /nl/jsp/soaprouter.jsp``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from lxml import etree
from sqlalchemy.exc import SQLAlchemyError

from midsourcing.deps import provide_state
from midsourcing.security.service import Credentials
from midsourcing.soapapi.methods import METHODS, CallContext
from services.bodies import read_body
from services.db import DatabaseError
from services.errors import (
    AuthenticationFailed,
    InvalidRequest,
    McsimError,
    SessionExpired,
    UnknownMethod,
)
from services.soap.envelope import SoapCall, SoapVersion, read_call, render_fault

__all__ = ["router"]

log = logging.getLogger("mcsim.mid.soap")
router = APIRouter(tags=["soap"])


@router.post("/nl/jsp/soaprouter.jsp", include_in_schema=False)
async def soap_router(request: Request) -> Response:
    """Read the envelope, find the method, run it, and answer with a response or a Fault."""
    state = provide_state(request)
    version = SoapVersion.SOAP11
    call: SoapCall | None = None
    try:
        body = await read_body(request, max_bytes=state.settings.max_body_bytes)
        call = read_call(
            body,
            soap_action=request.headers.get("soapaction"),
            content_type=request.headers.get("content-type"),
            query_action=request.query_params.get("soapAction"),
            max_bytes=state.settings.max_body_bytes,
            max_depth=state.settings.max_xml_depth,
        )
        version = call.version
        handler = METHODS.get((call.service, call.method))
        if handler is None:
            raise UnknownMethod(
                f"The method '{call.method}' is not defined in SOAP service '{call.service}'.",
                detail="known methods: " + ", ".join(f"{s}#{m}" for s, m in sorted(METHODS)),
            )
        reply = await handler(
            call, CallContext(state=state, credentials=_credentials(request, call))
        )
    except SQLAlchemyError as exc:  # the caller keeps the part and retries it later
        log.warning("database error in a SOAP call", exc_info=True)
        unavailable = DatabaseError(
            "The mid-sourcing database is unavailable; retry later.", detail=type(exc).__name__
        )
        reply = render_fault(unavailable, version=version)
    except McsimError as error:
        shown = _campaign_wording(error, call)
        log.info("fault %s", shown.fault_string, extra={"action": call.action if call else None})
        reply = render_fault(shown, version=version)
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


def _credentials(request: Request, call: SoapCall) -> Credentials:
    cookie = request.cookies.get("__sessiontoken")
    security = request.headers.get("x-security-token")
    if call.header is not None:  # the JS SDK repeats both inside SOAP-ENV:Header
        for element in call.header:
            if not isinstance(element.tag, str):
                continue
            name, text = etree.QName(element).localname, (element.text or "").strip()
            if name == "X-Security-Token" and security is None and text:
                security = text
            elif name == "Cookie" and cookie is None and "__sessiontoken=" in text:
                cookie = text.split("__sessiontoken=", 1)[1].split(";", 1)[0].strip()
    return Credentials(
        address=request.client.host if request.client else None,
        body_token=call.session_token,
        cookie_token=cookie or None,
        security_token=security or None,
    )


def _campaign_wording(error: McsimError, call: SoapCall | None) -> McsimError:
    """Word faults as Campaign does: a generic faultstring, the precise reason in detail."""
    if call is None or isinstance(error, SessionExpired | UnknownMethod):
        return error
    reason = error.message if error.detail is None else f"{error.message} ({error.detail})"
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
