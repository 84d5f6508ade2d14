"""Wire schemas of ``GET /api/v1/monitoring``."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

__all__ = ["BalancerHealth", "Check", "InstanceHealth", "Level", "Monitoring"]


class Level(enum.StrEnum):
    """How an indicator compares with its thresholds."""

    OK = "ok"
    WARNING = "warning"
    ALERT = "alert"


class Check(BaseModel):
    """One indicator, its value and thresholds, and the level it reaches."""

    indicator: str
    label: str
    value: float | None
    warning: float
    alert: float
    level: Level


class InstanceHealth(BaseModel):
    """One execution instance: reachable or not, its statistics and their checks."""

    account_id: int
    name: str
    label: str
    url: str
    instance_id: int | None
    reachable: bool
    error: str | None = None
    level: Level
    pending_rt: int | None = None
    pending_batch: int | None = None
    events_in_per_hour: float | None = None
    messages_out_per_hour: float | None = None
    error_rate: float | None = None
    avg_queuing_seconds: float | None = None
    avg_sending_seconds: float | None = None
    avg_processing_seconds: float | None = None
    queued_max: int | None = Field(None, description="Most events pending at once (window).")
    queued_min: int | None = Field(None, description="Fewest events pending at once (window).")
    queued_avg: float | None = Field(None, description="Average events pending (window).")
    stats: dict[str, Any] | None = None
    checks: list[Check] = []


class BalancerHealth(BaseModel):
    """The load balancer and its backends, from its ``GET /_lb/status``."""

    url: str
    reachable: bool
    error: str | None = None
    backends: list[dict[str, Any]] = []
    counts: dict[str, int] = {}


class Monitoring(BaseModel):
    """Every enabled execution instance and the load balancer."""

    at: datetime
    level: Level
    instances: list[InstanceHealth]
    load_balancer: BalancerHealth | None
