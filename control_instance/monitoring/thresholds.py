"""Campaign's warning and alert thresholds (campaign-facts §4.7) applied to instance statistics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from control_instance.monitoring.schemas import Check, Level
from control_instance.settings import ControlSettings

__all__ = ["Threshold", "evaluate", "thresholds_from", "worst"]

_ORDER = {Level.OK: 0, Level.WARNING: 1, Level.ALERT: 2}


@dataclass(frozen=True)
class Threshold:
    """One indicator's limits; ``higher_is_worse`` is False for throughput."""

    indicator: str
    label: str
    warning: float
    alert: float
    higher_is_worse: bool = True

    def level(self, value: float) -> Level:
        """Return the level a value reaches."""
        if self.higher_is_worse:
            if value >= self.alert:
                return Level.ALERT
            return Level.WARNING if value >= self.warning else Level.OK
        if value <= self.alert:
            return Level.ALERT
        return Level.WARNING if value <= self.warning else Level.OK


def thresholds_from(settings: ControlSettings) -> list[Threshold]:
    """Return the thresholds configured in the settings (Campaign's MC_RtEvent* options)."""
    s = settings
    return [
        Threshold(
            "pending_events",
            "Events pending in queue",
            s.monitor_queue_warning,
            s.monitor_queue_alert,
        ),
        Threshold(
            "error_rate", "Error rate (%)", s.monitor_error_rate_warning, s.monitor_error_rate_alert
        ),
        Threshold(
            "outgoing_throughput",
            "Outgoing throughput (msg/h)",
            s.monitor_throughput_warning,
            s.monitor_throughput_alert,
            higher_is_worse=False,
        ),
        Threshold(
            "avg_queuing_seconds",
            "Average time in queue (s)",
            s.monitor_queue_time_warning,
            s.monitor_queue_time_alert,
        ),
        Threshold(
            "avg_sending_seconds",
            "Average sending time (s)",
            s.monitor_sending_time_warning,
            s.monitor_sending_time_alert,
        ),
        Threshold(
            "avg_processing_seconds",
            "Average processing time (s)",
            s.monitor_processing_time_warning,
            s.monitor_processing_time_alert,
        ),
    ]


def _value(indicator: str, stats: Mapping[str, Any]) -> float | None:
    pending = int(stats["pending"]["rt"]) + int(stats["pending"]["batch"])
    if indicator == "pending_events":
        return float(pending)
    if indicator == "outgoing_throughput":
        # An idle instance sends nothing and is healthy: throughput only counts with a queue.
        return float(stats["messages_out_per_hour"]) if pending else None
    value = stats.get(indicator)
    return None if value is None else float(value)


def evaluate(stats: Mapping[str, Any], thresholds: list[Threshold]) -> list[Check]:
    """Return every indicator of an instance's ``/_mc/stats`` with the level it reaches."""
    checks = []
    for threshold in thresholds:
        value = _value(threshold.indicator, stats)
        checks.append(
            Check(
                indicator=threshold.indicator,
                label=threshold.label,
                value=value,
                warning=threshold.warning,
                alert=threshold.alert,
                level=Level.OK if value is None else threshold.level(value),
            )
        )
    return checks


def worst(levels: list[Level]) -> Level:
    """Return the most severe level (ok when there is none)."""
    return max(levels, key=_ORDER.__getitem__, default=Level.OK)
