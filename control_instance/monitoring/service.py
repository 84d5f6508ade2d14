"""Use case of monitoring: read every instance's ``/_mc/stats`` and the balancer's status."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceCallError
from control_instance.accounts.service import Target, list_targets
from control_instance.archive.source import read_json
from control_instance.monitoring.schemas import (
    BalancerHealth,
    InstanceHealth,
    Level,
    Monitoring,
)
from control_instance.monitoring.thresholds import evaluate, thresholds_from, worst
from control_instance.state import ControlState
from services.clock import utc_now

__all__ = ["read_monitoring"]


async def _instance(state: ControlState, target: Target) -> InstanceHealth:
    base: dict[str, Any] = {
        "account_id": target.account_id,
        "name": target.name,
        "label": target.label,
        "url": target.url,
        "instance_id": target.instance_id,
    }
    try:
        stats = await read_json(
            state.http, target, "/stats", wait=state.settings.instance_timeout_seconds
        )
        checks = evaluate(stats, thresholds_from(state.settings))
        pending = stats["pending"]
    except InstanceCallError as exc:
        return InstanceHealth(**base, reachable=False, error=exc.message, level=Level.ALERT)
    except (KeyError, TypeError, ValueError) as exc:
        error = f"the instance's /_mc/stats answer is not understood: {exc!r}"
        return InstanceHealth(**base, reachable=False, error=error, level=Level.ALERT)
    return InstanceHealth(
        **base,
        reachable=True,
        level=worst([check.level for check in checks]),
        pending_rt=int(pending["rt"]),
        pending_batch=int(pending["batch"]),
        events_in_per_hour=stats.get("events_in_per_hour"),
        messages_out_per_hour=stats.get("messages_out_per_hour"),
        error_rate=stats.get("error_rate"),
        avg_queuing_seconds=stats.get("avg_queuing_seconds"),
        avg_sending_seconds=stats.get("avg_sending_seconds"),
        avg_processing_seconds=stats.get("avg_processing_seconds"),
        **_queued(stats),
        stats=stats,
        checks=checks,
    )


def _queued(stats: dict[str, Any]) -> dict[str, Any]:
    """Return the max/min/avg queued events (absent from an instance older than them)."""
    queued = stats.get("queued_events")
    if not isinstance(queued, dict):
        return {}
    return {
        "queued_max": queued.get("max"),
        "queued_min": queued.get("min"),
        "queued_avg": queued.get("avg"),
    }


async def _balancer(state: ControlState) -> BalancerHealth | None:
    url = state.settings.load_balancer_url
    if not url:
        return None
    try:
        answer = await state.http.get(
            url.rstrip("/") + "/_lb/status", timeout=state.settings.instance_timeout_seconds
        )
        answer.raise_for_status()
        body = answer.json()
        return BalancerHealth(
            url=url,
            reachable=True,
            backends=list(body.get("backends", [])),
            counts={k: int(v) for k, v in dict(body.get("counts", {})).items()},
        )
    except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
        return BalancerHealth(url=url, reachable=False, error=f"{type(exc).__name__}: {exc}")


async def read_monitoring(*, state: ControlState) -> Monitoring:
    """Return the health and indicators of every enabled instance and of the load balancer."""
    targets = await run_in_threadpool(lambda: list_targets(state=state))
    instances, balancer = await asyncio.gather(
        asyncio.gather(*(_instance(state, target) for target in targets)), _balancer(state)
    )
    levels = [instance.level for instance in instances]
    if balancer is not None and not balancer.reachable:
        levels.append(Level.ALERT)
    return Monitoring(
        at=utc_now(),
        level=worst(levels),
        instances=list(instances),
        load_balancer=balancer,
    )
