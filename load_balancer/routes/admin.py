"""Add and remove backends at run time: ``/_lb/backends`` (bearer admin token)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from load_balancer.deps import AdminDep, RuntimeDep
from load_balancer.report import describe_backends
from load_balancer.settings import backend_url
from load_balancer.shared import TableFull
from services.errors import Conflict, InvalidRequest, NotFound

__all__ = ["router"]

log = logging.getLogger("mcsim.lb.admin")

router = APIRouter(prefix="/_lb/backends", tags=["admin"])


class BackendIn(BaseModel):
    """A backend to add or remove."""

    url: str = Field(examples=["http://127.0.0.1:8083"])


def _url(value: str) -> str:
    try:
        return backend_url(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), field="url") from None


@router.get("")
async def list_backends(runtime: RuntimeDep, _admin: AdminDep) -> list[dict[str, Any]]:
    """List the backends with their state and counters."""
    assert runtime.shared is not None
    return describe_backends(runtime.shared)


@router.post("", status_code=201)
async def add_backend(body: BackendIn, runtime: RuntimeDep, _admin: AdminDep) -> dict[str, Any]:
    """Add a backend; it gets requests at once and is health-checked from now on."""
    assert runtime.shared is not None
    url = _url(body.url)
    try:
        slot = runtime.shared.add(url)
    except TableFull as exc:
        raise Conflict(str(exc)) from None
    except ValueError as exc:
        raise Conflict(str(exc), field="url") from None
    log.info("backend %s added", url, extra={"backend": url})
    return {"url": slot.url, "state": slot.state_name}


@router.delete("")
async def remove_backend(url: str, runtime: RuntimeDep, _admin: AdminDep) -> dict[str, Any]:
    """Remove a backend (``?url=``); requests already sent to it finish."""
    assert runtime.shared is not None
    normalized = _url(url)
    if not runtime.shared.remove(normalized):
        raise NotFound(f"{normalized} is not a backend")
    log.info("backend %s removed", normalized, extra={"backend": normalized})
    return {"url": normalized, "removed": True}
