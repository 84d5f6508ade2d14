"""``mcsim status``: ask every service of a running stack for its health."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from services.cli.display import status_table
from services.cli.health import Health, check_health, health_client
from services.cli.plan import StackOptions, plan_stack
from services.cli.state import StackState, read_state, supervisor_alive
from services.clock import describe_offset

__all__ = ["StatusTarget", "collect_status", "run_status", "targets_for"]


@dataclass(frozen=True)
class StatusTarget:
    """A service to ask: its name, label and base URL."""

    name: str
    label: str
    url: str


def targets_for(state: StackState | None, fallback: StackOptions) -> list[StatusTarget]:
    """Return the services of ``state``, or those ``fallback`` would start."""
    if state is not None:
        return [StatusTarget(s.name, s.label, s.url) for s in state.services]
    return [StatusTarget(s.name, s.label, s.url) for s in plan_stack(fallback).services]


async def collect_status(
    targets: Sequence[StatusTarget], *, wait_s: float = 3.0
) -> list[tuple[StatusTarget, Health]]:
    """Return every target with its health, asked concurrently."""
    async with health_client(wait_s) as client:
        answers = await asyncio.gather(*(check_health(client, t.url) for t in targets))
    return list(zip(targets, answers, strict=True))


def run_status(
    data_dir: Path, fallback: StackOptions, *, console: Console, timeout: float = 3.0
) -> int:
    """Print the health of every service; return 0 when all are up, else 1."""
    state_file = data_dir / "stack.json"
    state = read_state(state_file)
    if state is None:
        console.print(f"No {state_file}: checking the ports of a default stack.")
    else:
        alive = "running" if supervisor_alive(state) else "[red]not running[/]"
        console.print(
            f"Stack started {state.started_at} from {state.data_dir}: "
            f"supervisor pid {state.supervisor_pid} {alive}, state {state.state}."
        )
    results = asyncio.run(collect_status(targets_for(state, fallback), wait_s=timeout))
    console.print(status_table([(t.label, t.url, health) for t, health in results]))
    offsets = {h.report.get("clock_offset_s") for _, h in results if h.up} - {None}
    if len(offsets) > 1:
        console.print(
            "[yellow]the services' clocks disagree[/]: move them together with mcsim clock"
        )
    elif offsets and (offset := offsets.pop()):
        console.print(f"[yellow]virtual clock[/]: {describe_offset(float(offset))}")
    down = [t.label for t, health in results if not health.up]
    if down:
        console.print(f"[red]{len(down)} service(s) down:[/] {', '.join(down)}")
        return 1
    console.print(f"[green]all {len(results)} services are up[/]")
    return 0
