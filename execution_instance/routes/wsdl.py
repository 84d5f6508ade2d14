"""Campaign's WSDL page: ``GET /nl/jsp/schemawsdl.jsp?schema=nms:rtEvent``."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from execution_instance.soapapi.methods import SCHEMAS
from services.settings import ServiceSettings
from services.soap.wsdl import render_wsdl

__all__ = ["SCHEMAS", "router"]


router = APIRouter(tags=["soap"])


@router.get("/nl/jsp/schemawsdl.jsp", response_class=Response)
async def schema_wsdl(request: Request, schema: str | None = None) -> Response:
    """Serve a schema's WSDL, addressed to this instance's public URL (the load balancer's)."""
    settings: ServiceSettings = request.app.state.settings
    body = render_wsdl(schema, public_url=settings.resolved_public_url, available=SCHEMAS)
    return Response(body, media_type="text/xml; charset=utf-8")
