"""The SOAP router of the mid-sourcing server: ``POST /nl/jsp/soaprouter.jsp``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError

from midsourcing.deps import provide_state
from midsourcing.security.service import Credentials
from midsourcing.soapapi.methods import METHODS, CallContext
from services.db import DatabaseError
from services.errors import (
    McsimError,
)
from services.soap.envelope import SoapCall, SoapVersion, render_fault
from services.soap.router import campaign_wording, read_soap_call, session_tokens, unknown_method

__all__ = ["ROUTER_PATH", "router", "soap_router"]

ROUTER_PATH = "/nl/jsp/soaprouter.jsp"

log = logging.getLogger("mcsim.mid.soap")
router = APIRouter(tags=["soap"])


@router.post(ROUTER_PATH, include_in_schema=False)
async def soap_router(request: Request) -> Response:
    """Read the envelope, find the method, run it, and answer with a response or a Fault."""
    state = provide_state(request)
    version = SoapVersion.SOAP11
    call: SoapCall | None = None
    try:
        call = await read_soap_call(
            request,
            max_bytes=state.settings.max_body_bytes,
            max_depth=state.settings.max_xml_depth,
        )
        version = call.version
        handler = METHODS.get((call.service, call.method))
        if handler is None:
            raise unknown_method(call, METHODS)
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
        shown = campaign_wording(error, call)
        log.info("fault %s", shown.fault_string, extra={"action": call.action if call else None})
        reply = render_fault(shown, version=version)
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


def _credentials(request: Request, call: SoapCall) -> Credentials:
    cookie, security = session_tokens(request, call)
    return Credentials(
        address=request.client.host if request.client else None,
        body_token=call.session_token,
        cookie_token=cookie,
        security_token=security,
    )
