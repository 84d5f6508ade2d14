"""The SOAP router: ``POST /nl/jsp/soaprouter.jsp``."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from execution_instance.deps import client_address, provide_state
from execution_instance.security.service import Credentials
from execution_instance.soapapi.methods import METHODS, CallContext
from execution_instance.state import ExecutionState
from services.errors import (
    McsimError,
)
from services.soap.envelope import SoapCall, SoapVersion, render_fault
from services.soap.router import campaign_wording, read_soap_call, session_tokens, unknown_method

__all__ = ["ROUTER_PATH", "router", "soap_router"]

ROUTER_PATH = "/nl/jsp/soaprouter.jsp"

log = logging.getLogger("mcsim.soap")
router = APIRouter(tags=["soap"])


@router.post(ROUTER_PATH, include_in_schema=False)
async def soap_router(request: Request) -> Response:
    """Read the envelope, find the method, run it, and answer with a response or a Fault."""
    state = provide_state(request)  # not a Depends: this is the hot path
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
        context = CallContext(state=state, credentials=_credentials(request, call, state))
        reply = await handler(call, context)
    except McsimError as error:
        shown = campaign_wording(error, call)
        log.info("fault %s", shown.fault_string, extra={"action": call.action if call else None})
        reply = render_fault(shown, version=version)
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)


def _credentials(request: Request, call: SoapCall, state: ExecutionState) -> Credentials:
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" and value.strip() else None
    cookie, security = session_tokens(request, call)
    return Credentials(
        address=client_address(request, state),
        body_token=call.session_token,
        bearer=bearer,
        cookie_token=cookie,
        security_token=security,
    )
