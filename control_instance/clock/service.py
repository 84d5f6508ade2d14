"""Move the whole cell's clock at once (issue 16): this instance, every execution instance and
mid-sourcing run the same offset ahead of real time.

The control instance's offset is the reference: a change (``advance 2h``, ``to …``, ``reset``)
is applied here first, and the offset it gives is then set, as an absolute value, on every
enabled execution instance (``POST /_mc/clock``) and on mid-sourcing (``POST /api/v1/clock``).
A service that was down when the clock moved is put back in step by the next change, and
``GET /api/v1/clock`` shows who is out of step. Moving the clock then purges what its new time
makes old (the archive and the instances' finished events past their retention).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceCallError
from control_instance.accounts.service import Target, client_for, list_targets
from control_instance.archive.service import purge_archive, purge_instances
from control_instance.state import ControlState
from services.clock import ClockChange, ClockReport, move_clock

__all__ = ["CellClock", "ServiceClock", "move_cell_clock", "read_cell_clock"]

log = logging.getLogger("mcsim.control.clock")


class ServiceClock(BaseModel):
    """One service's clock, or why it could not be read or moved."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    service: str = Field(description="control instance, execution instance NAME or mid-sourcing")
    url: str
    ok: bool
    now: datetime | None = None
    offset_seconds: float | None = None
    error: str | None = None


class CellClock(BaseModel):
    """The cell's clock: the control instance's, and every service's."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    now: datetime = Field(description="The cell's current time (the control instance's).")
    real_now: datetime
    offset_seconds: float = Field(description="How far ahead of real time the cell runs.")
    moved: bool
    in_step: bool = Field(description="Every service answered and runs the same offset.")
    services: list[ServiceClock]


async def read_cell_clock(*, state: ControlState) -> CellClock:
    """Report the clock of every service of the cell."""
    return await _survey(state, offset=None)


async def move_cell_clock(*, state: ControlState, change: ClockChange) -> CellClock:
    """Move this instance's clock, then set its offset on every service (refused in
    production); purge what became too old."""
    settings = state.settings
    move = await run_in_threadpool(move_clock, state.db, change, environment=settings.environment)
    log.info(
        "clock moved",
        extra={"before_s": move.before.total_seconds(), "after_s": move.after.total_seconds()},
    )
    cell = await _survey(state, offset=move.after.total_seconds())
    try:
        await run_in_threadpool(
            lambda: purge_archive(db=state.db, retention_days=settings.archive_retention_days)
        )
        await purge_instances(state=state)
    except Exception:  # a purge that fails now runs again with the archiving loop
        log.warning("purge after moving the clock failed", exc_info=True)
    return cell


async def _survey(state: ControlState, *, offset: float | None) -> CellClock:
    """Read (``offset`` None) or set every other service's clock; report them all."""
    targets = await run_in_threadpool(lambda: list_targets(state=state))
    others = await asyncio.gather(
        *(_instance(state, t, offset) for t in targets), _midsourcing(state, offset)
    )
    own = ClockReport.read()
    here = ServiceClock(
        service="control instance",
        url=state.settings.resolved_public_url,
        ok=True,
        now=own.now,
        offset_seconds=own.offset_seconds,
    )
    services = [here, *others]
    in_step = all(s.ok and s.offset_seconds == own.offset_seconds for s in services)
    return CellClock(
        now=own.now,
        real_now=own.real_now,
        offset_seconds=own.offset_seconds,
        moved=own.moved,
        in_step=in_step,
        services=services,
    )


async def _instance(state: ControlState, target: Target, offset: float | None) -> ServiceClock:
    client = client_for(state, target)
    return await _ask(f"execution instance {target.name}", target.url, lambda: client.clock(offset))


async def _midsourcing(state: ControlState, offset: float | None) -> ServiceClock:
    url = state.settings.midsourcing_url.rstrip("/")

    async def call() -> ClockReport:
        try:
            if offset is None:
                answer = await state.http.get(
                    url + "/api/v1/clock", timeout=state.settings.instance_timeout_seconds
                )
            else:
                answer = await state.http.post(
                    url + "/api/v1/clock",
                    json={"offsetSeconds": offset},
                    timeout=state.settings.instance_timeout_seconds,
                )
        except httpx.HTTPError as exc:
            raise InstanceCallError(f"cannot reach the mid-sourcing server: {exc!r}") from None
        if answer.status_code != 200:
            raise InstanceCallError(f"HTTP {answer.status_code}: {answer.text[:200]}")
        try:
            return ClockReport.model_validate(answer.json())
        except ValueError:
            raise InstanceCallError("the answer of /api/v1/clock is not understood") from None

    return await _ask("mid-sourcing", url, call)


async def _ask(service: str, url: str, call: Callable[[], Awaitable[ClockReport]]) -> ServiceClock:
    try:
        report = await call()
    except InstanceCallError as exc:
        return ServiceClock(service=service, url=url, ok=False, error=exc.message)
    return ServiceClock(
        service=service, url=url, ok=True, now=report.now, offset_seconds=report.offset_seconds
    )
