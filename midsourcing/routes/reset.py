"""Reset between tests: ``POST /api/v1/reset`` (messages, delivery logs, quarantine, chaos)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.concurrency import run_in_threadpool

from midsourcing.deps import StateDep
from midsourcing.mailbox.csrf import from_another_site
from midsourcing.reset import service
from services.errors import Forbidden

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["reset"])


class ResetOut(BaseModel):
    """What a reset removed."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    messages: int = Field(description="Messages deleted, captured or still being delivered.")
    delivery_logs: int
    addresses: int = Field(description="Addresses in quarantine or with errors released.")
    chaos_channels: int = Field(description="Channels whose chaos was stopped.")


@router.post("/reset", response_model=ResetOut)
async def reset(request: Request, state: StateDep) -> ResetOut:
    """Forget messages, delivery logs, quarantine and chaos (tests; refused in production)."""
    # No login here (as Mailpit), but a POST can come from any web page: refuse other sites.
    if from_another_site(request):
        raise Forbidden("a reset sent from another site was refused")
    outcome = await run_in_threadpool(
        service.reset_capture,
        db=state.db,
        chaos=state.chaos,
        environment=state.settings.environment,
    )
    state.feed.changed()
    return ResetOut(
        messages=outcome.messages,
        delivery_logs=outcome.delivery_logs,
        addresses=outcome.addresses,
        chaos_channels=outcome.chaos_channels,
    )
