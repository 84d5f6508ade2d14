"""FastAPI dependencies of the execution instance: ``Annotated`` aliases read from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from execution_instance.state import ExecutionState

__all__ = ["StateDep", "client_address", "provide_state"]


def provide_state(request: Request) -> ExecutionState:
    """Return the running instance's state."""
    state: ExecutionState = request.app.state.execution
    return state


StateDep = Annotated[ExecutionState, Depends(provide_state)]


def client_address(request: Request, state: ExecutionState) -> str | None:
    """Return the caller's address, through the load balancer when it is a trusted proxy."""
    peer = request.client.host if request.client else None
    return state.proxies.client(peer, request.headers.get("x-forwarded-for"))
