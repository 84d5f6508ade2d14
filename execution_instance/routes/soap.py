"""The SOAP router: ``POST /nl/jsp/soaprouter.jsp``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from execution_instance.deps import client_address, provide_state
from execution_instance.security.service import Credentials
from execution_instance.soapapi.methods import METHODS, CallContext, Handler
from execution_instance.state import ExecutionState
from services.soap.envelope import SoapCall, SoapReply
from services.soap.router import answer_soap_call, bearer_token, session_tokens

__all__ = ["ROUTER_PATH", "router", "soap_router"]

ROUTER_PATH = "/nl/jsp/soaprouter.jsp"

log = logging.getLogger("mcsim.soap")
router = APIRouter(tags=["soap"])


@router.post(ROUTER_PATH, include_in_schema=False)
async def soap_router(request: Request) -> Response:
    """Read the envelope, find the method, run it, and answer with a response or a Fault."""
    state = provide_state(request)  # not a Depends: this is the hot path

    def invoke(handler: Handler, call: SoapCall) -> Awaitable[SoapReply]:
        credentials = _credentials(request, call, state)
        return handler(call, CallContext(state=state, credentials=credentials))

    return await answer_soap_call(
        request,
        METHODS,
        invoke,
        max_bytes=state.settings.max_body_bytes,
        max_depth=state.settings.max_xml_depth,
        log=log,
        database_unavailable="The execution instance's database is unavailable; nothing was "
        "done. Retry later.",
    )


def _credentials(request: Request, call: SoapCall, state: ExecutionState) -> Credentials:
    cookie, security = session_tokens(request, call)
    return Credentials(
        address=client_address(request, state),
        body_token=call.session_token,
        bearer=bearer_token(request),
        cookie_token=cookie,
        security_token=security,
    )
