"""Run one control-plane action on many execution instances in parallel, outcome per instance."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from pydantic import BaseModel, Field

from control_instance.accounts.client import InstanceCallError, InstanceClient
from control_instance.accounts.service import Target, client_for
from control_instance.state import ControlState

__all__ = ["InstanceOutcome", "fan_out"]

#: What to do on one instance; it returns whether it changed something (None: not known).
Action = Callable[[InstanceClient, Target], Awaitable[bool | None]]


class InstanceOutcome(BaseModel):
    """What happened on one execution instance."""

    account_id: int
    name: str
    url: str
    instance_id: int | None
    ok: bool
    changed: bool | None = Field(
        None, description="False when the instance was already up to date."
    )
    error: str | None = None
    status: int | None = Field(None, description="HTTP status of a refusal, when there was one.")


async def _one(state: ControlState, target: Target, action: Action) -> InstanceOutcome:
    common = {
        "account_id": target.account_id,
        "name": target.name,
        "url": target.url,
        "instance_id": target.instance_id,
    }
    try:
        changed = await action(client_for(state, target), target)
    except InstanceCallError as exc:
        return InstanceOutcome(
            ok=False,
            error=exc.message,
            status=exc.status,
            **common,
        )
    return InstanceOutcome(ok=True, changed=changed, **common)


async def fan_out(
    state: ControlState, targets: Sequence[Target], action: Action
) -> list[InstanceOutcome]:
    """Run ``action`` on every target at once; a failure on one never stops the others."""
    return list(await asyncio.gather(*(_one(state, target, action) for target in targets)))
