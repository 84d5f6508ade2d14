"""The control instance's SOAP router (``POST /nl/jsp/soaprouter.jsp``) and its WSDLs.

The router is served ahead of FastAPI's per-request machinery (services/fastpath.py), as on
the execution instance: the console's session cookie and CSRF checks never apply to it; its
callers authenticate as Campaign clients do (control_instance/soapapi/security.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from control_instance.deps import client_address, provide_state
from control_instance.soapapi.methods import METHODS, SCHEMAS, CallContext, Handler
from control_instance.soapapi.security import SoapCredentials
from services.soap.envelope import SoapCall, SoapReply
from services.soap.router import answer_soap_call, bearer_token, session_tokens
from services.soap.wsdl import ROUTER_PATH, render_wsdl

__all__ = ["MAX_BODY_BYTES", "MAX_XML_DEPTH", "ROUTER_PATH", "router", "soap_router"]

#: Largest SOAP request read (a query is a few KiB; 413 beyond).
MAX_BODY_BYTES = 1024 * 1024
#: Deepest XML nesting accepted in a request.
MAX_XML_DEPTH = 64

log = logging.getLogger("mcsim.soap")
router = APIRouter(tags=["soap"])


@router.post(ROUTER_PATH, include_in_schema=False)
async def soap_router(request: Request) -> Response:
    """Read the envelope, find the method, run it, and answer with a response or a Fault."""
    state = provide_state(request)

    def invoke(handler: Handler, call: SoapCall) -> Awaitable[SoapReply]:
        return handler(call, CallContext(state=state, credentials=_credentials(request, call)))

    return await answer_soap_call(
        request, METHODS, invoke, max_bytes=MAX_BODY_BYTES, max_depth=MAX_XML_DEPTH, log=log
    )


@router.get("/nl/jsp/schemawsdl.jsp", response_class=Response)
async def schema_wsdl(request: Request, schema: str | None = None) -> Response:
    """Serve the WSDL of a schema of the control instance's router."""
    public_url = provide_state(request).settings.resolved_public_url
    body = render_wsdl(schema, public_url=public_url, available=SCHEMAS)
    return Response(body, media_type="text/xml; charset=utf-8")


def _credentials(request: Request, call: SoapCall) -> SoapCredentials:
    cookie, security_token = session_tokens(request, call)
    return SoapCredentials(
        address=client_address(request),
        body_token=call.session_token,
        cookie_token=cookie,
        security_token=security_token,
        bearer=bearer_token(request),
    )
