"""Campaign's WSDL page: ``GET /nl/jsp/schemawsdl.jsp?schema=nms:rtEvent``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from execution_instance.deps import client_address, provide_state
from execution_instance.security.service import Credentials
from execution_instance.soapapi.methods import SCHEMAS
from services.errors import AuthenticationFailed
from services.settings import ServiceSettings
from services.soap.router import bearer_token
from services.soap.wsdl import render_wsdl

__all__ = ["SCHEMAS", "router"]


router = APIRouter(tags=["soap"])


@router.get("/nl/jsp/schemawsdl.jsp", response_class=Response)
async def schema_wsdl(request: Request, schema: str | None = None) -> Response:
    """Serve a schema's WSDL, addressed to this instance's public URL (the load balancer's).

    Under IMS, Campaign wants the caller's ``Authorization: Bearer`` here too: a bearer token
    sent is checked (a bad one is refused); a request without one is served unless
    ``wsdl_needs_bearer`` is on.
    """
    settings: ServiceSettings = request.app.state.settings
    token = bearer_token(request)
    state = provide_state(request)
    if token is None and state.settings.wsdl_needs_bearer:
        raise AuthenticationFailed(
            "the WSDLs need Authorization: Bearer <IMS access token or technical token>",
            detail="MCSIM_EXEC_WSDL_NEEDS_BEARER is on, as Campaign v8.6 under IMS",
            field="Authorization",
        )
    if token is not None:
        credentials = Credentials(address=client_address(request, state), bearer=token)
        await state.security.authenticate_async(credentials)
    body = render_wsdl(schema, public_url=settings.resolved_public_url, available=SCHEMAS)
    return Response(body, media_type="text/xml; charset=utf-8")
