"""The SOAP router of the mid-sourcing server: ``POST /nl/jsp/soaprouter.jsp``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from midsourcing.deps import provide_state
from midsourcing.security.service import Credentials
from midsourcing.soapapi.methods import METHODS, CallContext, Handler
from services.soap.envelope import SoapCall, SoapReply
from services.soap.router import answer_soap_call, session_tokens

__all__ = ["ROUTER_PATH", "router", "soap_router"]

ROUTER_PATH = "/nl/jsp/soaprouter.jsp"

log = logging.getLogger("mcsim.mid.soap")
router = APIRouter(tags=["soap"])


@router.post(ROUTER_PATH, include_in_schema=False)
async def soap_router(request: Request) -> Response:
    """Read the envelope, find the method, run it, and answer with a response or a Fault."""
    state = provide_state(request)

    def invoke(handler: Handler, call: SoapCall) -> Awaitable[SoapReply]:
        return handler(call, CallContext(state=state, credentials=_credentials(request, call)))

    return await answer_soap_call(
        request,
        METHODS,
        invoke,
        max_bytes=state.settings.max_body_bytes,
        max_depth=state.settings.max_xml_depth,
        log=log,
        # The execution instance keeps the part and hands it over again later.
        database_unavailable="The mid-sourcing database is unavailable; retry later.",
    )


def _credentials(request: Request, call: SoapCall) -> Credentials:
    cookie, security = session_tokens(request, call)
    return Credentials(
        address=request.client.host if request.client else None,
        body_token=call.session_token,
        cookie_token=cookie,
        security_token=security,
    )
