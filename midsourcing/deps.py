"""FastAPI dependencies of the mid-sourcing server: ``Annotated`` aliases read from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from midsourcing.state import MidState

__all__ = ["StateDep", "provide_state"]


def provide_state(request: Request) -> MidState:
    """Return the running server's state."""
    state: MidState = request.app.state.mid
    return state


StateDep = Annotated[MidState, Depends(provide_state)]
