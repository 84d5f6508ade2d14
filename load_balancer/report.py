"""What the balancer says about itself: ``/_lb/status`` (JSON) and ``/metrics`` (Prometheus).

Both read the shared memory of every worker, so whichever worker answers, the numbers are the
balancer's as a whole.
"""

from __future__ import annotations

import math
from typing import Any

from load_balancer.shared import (
    BUCKETS_MS,
    DOWN,
    STATE_NAMES,
    UNKNOWN,
    UP,
    SharedState,
    percentile,
)

__all__ = ["describe_backends", "prometheus_text", "status_report"]


def describe_backends(shared: SharedState) -> list[dict[str, Any]]:
    """Return every backend with its state, instance id, counters and latency percentiles."""
    backends = []
    for slot in shared.slots():
        counters = shared.backend_counters(slot.index)
        completed = sum(counters.buckets)
        backends.append(
            {
                "url": slot.url,
                "state": slot.state_name,
                "instance_id": slot.instance_id,
                "in_flight": counters.in_flight,
                "requests": counters.requests,
                "errors": counters.failures,
                "timeouts": counters.timeouts,
                "responses_5xx": counters.responses_5xx,
                "retried_elsewhere": counters.retries,
                "latency_ms": {
                    "mean": round(counters.latency_sum_us / completed / 1000, 3)
                    if completed
                    else None,
                    "p50": percentile(counters.buckets, 0.50),
                    "p90": percentile(counters.buckets, 0.90),
                    "p99": percentile(counters.buckets, 0.99),
                },
                "last_check_ms": slot.checked_ms or None,
                "state_since_ms": slot.changed_ms,
                "last_error": slot.error or None,
            }
        )
    return backends


def status_report(shared: SharedState) -> dict[str, Any]:
    """Return the body of ``GET /_lb/status``."""
    backends = describe_backends(shared)
    workers = shared.worker_counters()
    return {
        "backends": backends,
        "counts": {
            "total": len(backends),
            "up": sum(1 for b in backends if b["state"] == STATE_NAMES[UP]),
            "down": sum(1 for b in backends if b["state"] == STATE_NAMES[DOWN]),
            "unknown": sum(1 for b in backends if b["state"] == STATE_NAMES[UNKNOWN]),
        },
        "requests": sum(w.requests for w in workers),
        "in_flight": sum(b["in_flight"] for b in backends),
        "refused": {
            "no_backend": sum(w.no_backend for w in workers),
            "too_large": sum(w.too_large for w in workers),
            "bad_request": sum(w.bad_request for w in workers),
            "client_gone": sum(w.client_gone for w in workers),
        },
        "workers": [{"worker": w.worker, "pid": w.pid, "requests": w.requests} for w in workers],
    }


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound / 1000)


def prometheus_text(shared: SharedState) -> str:
    """Return every counter in the Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []

    def family(name: str, kind: str, text: str) -> None:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} {kind}")

    slots = shared.slots()
    counters = {slot.index: shared.backend_counters(slot.index) for slot in slots}
    labels = {
        slot.index: f'backend="{_label(slot.url)}",instance_id="{slot.instance_id or ""}"'
        for slot in slots
    }
    family("mcsim_lb_backend_up", "gauge", "1 when the backend is usable, 0 when it is down.")
    for slot in slots:
        lines.append(f"mcsim_lb_backend_up{{{labels[slot.index]}}} {int(slot.state != DOWN)}")
    simple = (
        ("mcsim_lb_backend_requests_total", "counter", "Requests sent to the backend.", "requests"),
        (
            "mcsim_lb_backend_in_flight",
            "gauge",
            "Requests the backend is serving now.",
            "in_flight",
        ),
        (
            "mcsim_lb_backend_errors_total",
            "counter",
            "Requests that failed at the backend "
            "(connection refused or reset, timeout, invalid answer).",
            "failures",
        ),
        (
            "mcsim_lb_backend_timeouts_total",
            "counter",
            "Requests the backend did not answer in time.",
            "timeouts",
        ),
        (
            "mcsim_lb_backend_responses_5xx_total",
            "counter",
            "Answers with a 5xx status.",
            "responses_5xx",
        ),
        (
            "mcsim_lb_backend_retries_total",
            "counter",
            "Requests sent to another backend after this one refused the connection.",
            "retries",
        ),
    )
    for name, kind, text, attribute in simple:
        family(name, kind, text)
        for slot in slots:
            value = getattr(counters[slot.index], attribute)
            lines.append(f"{name}{{{labels[slot.index]}}} {value}")
    name = "mcsim_lb_backend_response_seconds"
    family(name, "histogram", "Time from sending a request to the end of its answer.")
    for slot in slots:
        backend = counters[slot.index]
        cumulative = 0
        for bound, count in zip(BUCKETS_MS, backend.buckets, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{{labels[slot.index]},le="{_le(bound)}"}} {cumulative}')
        lines.append(f"{name}_sum{{{labels[slot.index]}}} {backend.latency_sum_us / 1e6}")
        lines.append(f"{name}_count{{{labels[slot.index]}}} {cumulative}")
    workers = shared.worker_counters()
    family("mcsim_lb_requests_total", "counter", "Requests the balancer received.")
    lines.append(f"mcsim_lb_requests_total {sum(w.requests for w in workers)}")
    family("mcsim_lb_refused_total", "counter", "Requests the balancer answered itself.")
    for reason, attribute in (
        ("no_backend", "no_backend"),
        ("too_large", "too_large"),
        ("bad_request", "bad_request"),
        ("client_gone", "client_gone"),
    ):
        total = sum(getattr(w, attribute) for w in workers)
        lines.append(f'mcsim_lb_refused_total{{reason="{reason}"}} {total}')
    family("mcsim_lb_workers", "gauge", "Worker processes serving the balancer's port.")
    lines.append(f"mcsim_lb_workers {shared.workers}")
    return "\n".join(lines) + "\n"
