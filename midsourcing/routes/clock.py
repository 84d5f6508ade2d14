"""The virtual clock (issue 16): ``GET``/``POST /api/v1/clock`` (tests; refused in production).

Moving it makes due at once what became due: soft-bounce retries are looked for, and a
housekeeping pass ends the quarantines and purges the logs whose time has passed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from midsourcing.delivery.repository import shift_leases
from midsourcing.deps import StateDep
from midsourcing.housekeeping import Retention, run_housekeeping
from midsourcing.mailbox.csrf import from_another_site
from midsourcing.state import MidState
from services.clock import ClockChange, ClockReport, move_clock, real_now, utc_now
from services.errors import Forbidden

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["clock"])


def _move(state: MidState, change: ClockChange) -> None:
    moved = move_clock(state.db, change, environment=state.settings.environment)
    with state.db.transaction(write=True) as session:
        shift_leases(session, by=moved.after - moved.before, held_after=real_now() + moved.before)


@router.get("/clock", response_model=ClockReport, response_model_by_alias=True)
async def read_clock() -> ClockReport:
    """The server's clock: real time plus the virtual offset a test stack moved it by."""
    return ClockReport.read()


@router.post("/clock", response_model=ClockReport, response_model_by_alias=True)
async def set_clock(change: ClockChange, request: Request, state: StateDep) -> ClockReport:
    """Move the clock (tests; refused in production), then retry, release and purge what
    became due."""
    # No login here (as the reset), but a POST can come from any web page: refuse other sites.
    if from_another_site(request):
        raise Forbidden("a clock change sent from another site was refused")
    settings = state.settings
    await run_in_threadpool(_move, state, change)
    await run_in_threadpool(
        run_housekeeping,
        db=state.db,
        retention=Retention.from_settings(settings),
        now=utc_now(),
    )
    state.dispatcher.wake()
    state.feed.changed()
    return ClockReport.read()
