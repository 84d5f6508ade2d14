"""FastAPI dependencies of the execution instance: ``Annotated`` aliases read from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from execution_instance.state import ExecutionState
from services.forwarding import PROXY_SECRET_HEADER

__all__ = ["StateDep", "client_address", "provide_state"]


def provide_state(request: Request) -> ExecutionState:
    """Return the running instance's state."""
    state: ExecutionState = request.app.state.execution
    return state


StateDep = Annotated[ExecutionState, Depends(provide_state)]


def client_address(request: Request, state: ExecutionState) -> str | None:
    """Return the caller's address, through the load balancer when it proved itself."""
    peer = request.client.host if request.client else None
    headers = request.headers
    return state.proxies.client(
        peer, headers.get("x-forwarded-for"), headers.get(PROXY_SECRET_HEADER)
    )
