"""``mcsim clock show | advance 2h | set <time> | reset``: read or move the running cell's
virtual clock (issue 16) through the control instance's ``/api/v1/clock``, which moves every
execution instance and mid-sourcing with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.cli.reset import control_call

__all__ = ["CellClockView", "ServiceClockView", "clock_call"]


@dataclass(frozen=True)
class ServiceClockView:
    """One service's clock, or why it could not be read or moved."""

    service: str
    ok: bool
    offset_seconds: float | None
    now: str | None
    error: str | None


@dataclass(frozen=True)
class CellClockView:
    """The cell's clock as the control instance reports it."""

    now: str
    offset_seconds: float
    in_step: bool
    services: list[ServiceClockView]


def clock_call(
    control: str,
    change: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    login: str = "admin",
    password: str = "admin",  # noqa: S107 - the documented development password
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> CellClockView:
    """Read the cell's clock (``change`` None) or move it (``{"advance": "2h"}``, ...)."""
    body = control_call(
        control,
        "GET" if change is None else "POST",
        "/api/v1/clock",
        json=change,
        refused="the clock was not moved" if change else "cannot read it",
        token=token,
        login=login,
        password=password,
        timeout=timeout,
        transport=transport,
    )
    return CellClockView(
        now=str(body.get("now")),
        offset_seconds=float(body.get("offsetSeconds") or 0.0),
        in_step=bool(body.get("inStep")),
        services=[
            ServiceClockView(
                service=str(item.get("service", "?")),
                ok=bool(item.get("ok")),
                offset_seconds=item.get("offsetSeconds"),
                now=item.get("now"),
                error=item.get("error"),
            )
            for item in body.get("services", [])
        ],
    )
