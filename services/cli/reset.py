"""``mcsim reset``: make the running cell forget its events, messages, history, quarantine and
chaos, keeping its configuration (issue 16), through the control instance's ``POST
/api/v1/reset``, which resets every execution instance and mid-sourcing in turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.cli.plan import StackOptions, plan_stack
from services.cli.state import read_state

__all__ = [
    "ControlCommandError",
    "ResetResult",
    "ServiceOutcome",
    "control_call",
    "control_url",
    "login_token",
    "reset_cell",
    "response_body",
]


class ControlCommandError(RuntimeError):
    """The control instance refused a command (reset, clock), or could not be reached."""


@dataclass(frozen=True)
class ServiceOutcome:
    """What one service removed, or why it could not."""

    service: str
    ok: bool
    removed: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class ResetResult:
    """The outcome of a cell reset."""

    complete: bool
    services: list[ServiceOutcome]


def control_url(data_dir: Path, fallback: StackOptions) -> str:
    """Return the control instance's URL: from DATA_DIR/stack.json, else the ports options."""
    state = read_state(data_dir / "stack.json")
    services = state.services if state is not None else plan_stack(fallback).services
    for service in services:
        if service.service == "control":
            return str(service.url)
    raise ControlCommandError("the stack has no control instance")


def reset_cell(
    control: str,
    *,
    token: str | None = None,
    login: str = "admin",
    password: str = "admin",  # noqa: S107 - the documented development password
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> ResetResult:
    """Log in (unless given a token) and reset the cell behind ``control``."""
    body = control_call(
        control,
        "POST",
        "/api/v1/reset",
        refused="the reset was refused",
        token=token,
        login=login,
        password=password,
        timeout=timeout,
        transport=transport,
    )
    services = [
        ServiceOutcome(
            service=str(item.get("service", "?")),
            ok=bool(item.get("ok")),
            removed={str(k): int(v) for k, v in dict(item.get("removed") or {}).items()},
            error=item.get("error"),
        )
        for item in body.get("services", [])
    ]
    return ResetResult(complete=bool(body.get("complete")), services=services)


def control_call(
    control: str,
    method: str,
    path: str,
    *,
    refused: str,
    json: dict[str, Any] | None = None,
    token: str | None = None,
    login: str = "admin",
    password: str = "admin",  # noqa: S107 - the documented development password
    timeout: float = 60.0,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, Any]:
    """Call the control API behind ``control`` as an admin (logging in unless given a token);
    return the answer's JSON object, or raise ControlCommandError saying why (``refused``)."""
    with httpx.Client(base_url=control.rstrip("/"), timeout=timeout, transport=transport) as http:
        try:
            token = token or login_token(http, login, password)
            headers = {"authorization": f"Bearer {token}"}
            answer = http.request(method, path, json=json, headers=headers)
        except httpx.HTTPError as exc:
            raise ControlCommandError(
                f"cannot reach the control instance at {control}: {exc}"
            ) from None
        return response_body(answer, refused)


def login_token(http: httpx.Client, login: str, password: str) -> str:
    """Log in to the control instance behind ``http``; return the bearer token."""
    answer = http.post("/api/v1/auth/login", json={"login": login, "password": password})
    return str(response_body(answer, "cannot log in to the control instance")["access_token"])


def response_body(answer: httpx.Response, what: str) -> dict[str, Any]:
    """Return the JSON object of a successful answer, or raise ControlCommandError saying why."""
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.is_success and isinstance(body, dict):
        return body
    if isinstance(body, dict) and "message" in body:
        message = str(body["message"]) + (f" ({body['detail']})" if body.get("detail") else "")
    else:
        message = answer.text[:200]
    raise ControlCommandError(f"{what}: HTTP {answer.status_code}: {message}")
