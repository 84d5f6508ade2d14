"""Reset the whole cell between tests (issue 16): one call, every service, configuration kept,
every clock back on real time.

In order: every enabled execution instance forgets its events (``POST /_mc/reset``; each waits
for the hand-overs in flight, so none reaches mid-sourcing afterwards), then mid-sourcing
forgets its messages, delivery logs, quarantine and chaos (``POST /api/v1/reset``), then this
instance forgets its archived history and proofs. Event types, templates, seeds, accounts,
operators and tokens stay. A service that cannot be reached does not stop the others: the
answer says, per service, what was removed or what went wrong (``complete`` is false).
"""

from __future__ import annotations

import asyncio

import httpx
from pydantic import BaseModel, Field
from sqlalchemy import CursorResult, delete
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceCallError
from control_instance.accounts.service import Target, client_for, list_targets
from control_instance.clock.service import CellClock, move_cell_clock
from control_instance.state import ControlState
from control_instance.tables import ArchivedEvent, Proof
from services.clock import ClockChange
from services.db import Database
from services.errors import Forbidden
from services.settings import Environment

__all__ = ["CellReset", "ServiceReset", "reset_cell"]


class ServiceReset(BaseModel):
    """What one service removed, or why it could not."""

    service: str = Field(description="execution instance NAME, mid-sourcing or control instance")
    url: str
    ok: bool
    removed: dict[str, int] = Field(default_factory=dict)
    error: str | None = None


class CellReset(BaseModel):
    """The outcome of a cell reset, per service."""

    complete: bool
    services: list[ServiceReset]
    clock: CellClock = Field(description="Every service's clock, back on real time.")


async def reset_cell(*, state: ControlState) -> CellReset:
    """Reset every service of the cell (refused in production); keep the configuration."""
    if state.settings.environment is Environment.PRODUCTION:
        raise Forbidden(
            "a reset is refused in production",
            detail="it deletes every event, message and archived event of the cell",
        )
    # No archiving pass runs meanwhile: one that read events before the reset would write
    # them back into the history cleared here.
    async with state.archiving:
        targets = await run_in_threadpool(lambda: list_targets(state=state))
        instances = await asyncio.gather(*(_reset_instance(state, t) for t in targets))
        mid = await _reset_midsourcing(state)
        archive = await run_in_threadpool(_reset_archive, state.db)
        state.archive_reads.clear()
    # Back on real time too: a test must not inherit the clock an earlier test moved.
    clock = await move_cell_clock(state=state, change=ClockChange(reset=True))
    services = [*instances, mid, archive]
    return CellReset(
        complete=all(s.ok for s in services) and clock.in_step, services=services, clock=clock
    )


async def _reset_instance(state: ControlState, target: Target) -> ServiceReset:
    outcome = ServiceReset(service=f"execution instance {target.name}", url=target.url, ok=True)
    try:
        outcome.removed = await client_for(state, target).reset()
    except InstanceCallError as exc:
        outcome.ok, outcome.error = False, exc.message
    return outcome


async def _reset_midsourcing(state: ControlState) -> ServiceReset:
    url = state.settings.midsourcing_url.rstrip("/")
    outcome = ServiceReset(service="mid-sourcing", url=url, ok=False)
    try:
        answer = await state.http.post(
            url + "/api/v1/reset", timeout=state.settings.instance_timeout_seconds
        )
    except httpx.HTTPError as exc:
        outcome.error = f"cannot reach the mid-sourcing server: {exc!r}"
        return outcome
    try:
        body = answer.json()
    except ValueError:
        body = None
    if answer.status_code != 200 or not isinstance(body, dict):
        message = body.get("message") if isinstance(body, dict) else answer.text[:200]
        outcome.error = f"HTTP {answer.status_code}: {message}"
        return outcome
    outcome.ok = True
    outcome.removed = {k: int(v) for k, v in body.items() if isinstance(v, int)}
    return outcome


def _reset_archive(db: Database) -> ServiceReset:
    with db.transaction(write=True) as session:
        archived = session.execute(delete(ArchivedEvent))
        proofs = session.execute(delete(Proof))
        removed = {"archivedEvents": _rowcount(archived), "proofs": _rowcount(proofs)}
    return ServiceReset(service="control instance", url="", ok=True, removed=removed)


def _rowcount(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
