"""Campaign's redirection-server test page: ``GET /r/test``."""

from __future__ import annotations

import hashlib
import socket

from fastapi import APIRouter, Request, Response

from execution_instance.deps import client_address, provide_state
from services.soap.response import escape_attr
from services.soap.session import BUILD_NUMBER
from services.version import VERSION
from services.xtk import xtk_now

__all__ = ["router"]

router = APIRouter(tags=["monitoring"])


@router.get("/r/test", response_class=Response)
async def redirection_test(request: Request) -> Response:
    """Answer ``<redir status='OK' …/>`` as Campaign's tracking server does; no credentials."""
    state = provide_state(request)
    values = {
        "status": "OK",
        "date": xtk_now(),
        "build": BUILD_NUMBER,
        "sha1": hashlib.sha1(VERSION.encode(), usedforsecurity=False).hexdigest()[:7],
        "instance": f"mcsim_exec{state.identity.value}",
        "sourceIP": client_address(request, state) or "",
        "host": request.headers.get("host", ""),
        "localHost": socket.gethostname(),
    }
    attributes = " ".join(f"{name}='{escape_attr(value)}'" for name, value in values.items())
    return Response(f"<redir {attributes}/>\n", media_type="text/xml; charset=utf-8")
