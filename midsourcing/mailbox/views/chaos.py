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
from services.ui.forms import field_errors

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

#: What the chaos form's numbers must be, in plain words (shown next to a refused field).
_WORDS = {
    "probability": "Enter a share from 0 to 1, such as 0.25 for one message in four.",
    "latency_ms": "Enter a whole number of milliseconds from 0 to 600000.",
}


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
        **{"typed": {}, "errors": {}, **context},
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
    typed = {
        "probability": probability.strip(),
        "failure_reason": failure_reason.strip(),
        "failure_type": failure_type,
        "latency_ms": latency_ms.strip(),
    }
    try:
        settings = ChannelChaos.model_validate(
            {
                "probability": typed["probability"] or "0",
                "failure_reason": typed["failure_reason"] or int(FailureReason.UNREACHABLE),
                "failure_type": failure_type or None,
                "latency_ms": typed["latency_ms"] or "0",
            }
        )
    except ValidationError as exc:
        # The page again, with what was typed and each error next to its field.
        return _chaos_page(
            request,
            state,
            status_code=400,
            saved="",
            stopped="",
            error=f"The {name} chaos was not changed: correct the field marked below.",
            typed={name: typed},
            errors={name: {k: _WORDS.get(k, v) for k, v in field_errors(exc).items()}},
        )
    await chaos_api.put_channel_chaos(state, name, settings)
    return redirect(f"/chaos?saved={name}")


@router.get("/chaos/{channel}", response_model=None)
async def channel_page(channel: str) -> Response:
    """Send a browser that asks for one channel's form (a reload after posting it) to the page."""
    return redirect(f"/chaos#chaos-{_channel(channel)}")


@router.post("/chaos/{channel}/reset", response_model=None)
async def reset_channel(state: StateDep, channel: str, _: CsrfChecked) -> Response:
    """Stop the chaos of one channel."""
    name = _channel(channel)
    await chaos_api.delete_channel_chaos(state, name)
    return redirect(f"/chaos?stopped={name}")
