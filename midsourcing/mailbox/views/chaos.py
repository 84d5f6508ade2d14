"""Chaos: show and change the injected failures and latency of each channel."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from midsourcing.delivery.chaos import CHANNELS, ChannelChaos
from midsourcing.delivery.reasons import FailureReason
from midsourcing.deps import StateDep
from midsourcing.mailbox.csrf import CsrfChecked
from midsourcing.mailbox.rendering import page, redirect
from midsourcing.routes import chaos as chaos_api  # its handlers are the chaos use cases
from services.errors import InvalidRequest

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _injectable() -> list[FailureReason]:
    """Return the failure reasons chaos accepts (asked of the model, not repeated here)."""
    allowed = []
    for reason in FailureReason:
        try:
            ChannelChaos(failure_reason=int(reason))
        except ValidationError:
            continue
        allowed.append(reason)
    return allowed


def _channel(channel: str) -> chaos_api.ChannelName:
    if channel not in CHANNELS:
        raise InvalidRequest(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    return cast(chaos_api.ChannelName, channel)


def _problems(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def _chaos_page(
    request: Request, state: StateDep, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    config = state.chaos.config
    return page(
        request,
        "chaos.html",
        active="/chaos",
        status_code=status_code,
        channels=CHANNELS,
        config=config,
        defaults=ChannelChaos(),
        reasons=_injectable(),
        **context,
    )


@router.get("/chaos", response_class=HTMLResponse)
async def chaos_page(
    request: Request, state: StateDep, saved: str = "", stopped: str = ""
) -> HTMLResponse:
    """Show the chaos of every channel, with a form to change each."""
    return _chaos_page(
        request,
        state,
        saved=saved if saved in CHANNELS else "",
        stopped=stopped if stopped in (*CHANNELS, "all") else "",
        error=None,
    )


@router.post("/chaos/reset", response_model=None)
async def reset_all(state: StateDep, _: CsrfChecked) -> Response:
    """Stop every chaos."""
    await chaos_api.delete_chaos(state)
    return redirect("/chaos?stopped=all")


@router.post("/chaos/{channel}", response_model=None)
async def save_channel(
    request: Request,
    state: StateDep,
    channel: str,
    _: CsrfChecked,
    probability: Annotated[str, Form()] = "0",
    failure_reason: Annotated[str, Form()] = "",
    failure_type: Annotated[str, Form()] = "",
    latency_ms: Annotated[str, Form()] = "0",
) -> Response:
    """Set the chaos of one channel; a wrong value changes nothing and is explained."""
    name = _channel(channel)
    try:
        settings = ChannelChaos.model_validate(
            {
                "probability": probability.strip() or "0",
                "failure_reason": failure_reason.strip() or int(FailureReason.UNREACHABLE),
                "failure_type": failure_type or None,
                "latency_ms": latency_ms.strip() or "0",
            }
        )
    except ValidationError as exc:
        return _chaos_page(
            request,
            state,
            status_code=400,
            saved="",
            stopped="",
            error=f"The {name} chaos was not changed: {_problems(exc)}",
        )
    await chaos_api.put_channel_chaos(state, name, settings)
    return redirect(f"/chaos?saved={name}")


@router.post("/chaos/{channel}/reset", response_model=None)
async def reset_channel(state: StateDep, channel: str, _: CsrfChecked) -> Response:
    """Stop the chaos of one channel."""
    name = _channel(channel)
    await chaos_api.delete_channel_chaos(state, name)
    return redirect(f"/chaos?stopped={name}")
