"""The ceiling: a bare FastAPI endpoint that answers a fixed PushEventResponse.

Run by ``benchmarks/intake.py`` under the same uvicorn settings as an execution instance, so the
ratio between the two is what mcsim's own work costs.
"""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

RESPONSE = (
    b"<?xml version='1.0'?>\n<SOAP-ENV:Envelope xmlns:xsd='http://www.w3.org/2001/XMLSchema' "
    b"xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' xmlns:ns='urn:nms:rtEvent' "
    b"xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>\n<SOAP-ENV:Body>\n"
    b"<PushEventResponse xmlns='urn:nms:rtEvent' "
    b"SOAP-ENV:encodingStyle='http://schemas.xmlsoap.org/soap/encoding/'>\n"
    b"<plId xsi:type='xsd:long'>72057594037927937</plId>\n</PushEventResponse>\n"
    b"</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
)


def create_app() -> FastAPI:
    """Return the ceiling app."""
    app = FastAPI()

    @app.post("/nl/jsp/soaprouter.jsp")
    async def soaprouter(request: Request) -> Response:
        await request.body()
        return Response(RESPONSE, media_type="text/xml")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


if __name__ == "__main__":
    uvicorn.run(create_app(), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
