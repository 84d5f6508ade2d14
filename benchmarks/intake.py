"""Intake benchmark (issue 3): SOAP PushEvent and PushEvents against one execution instance.

Each round measures, side by side on the same machine, the ceiling (a bare FastAPI endpoint with
a fixed answer, see ceiling_app.py) and an execution instance on its embedded SQLite default,
durable (an id is returned only after its commit). Load comes from wrk.

    .venv/bin/python -m benchmarks.intake --seconds 10 --rounds 3
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.processes import cpu_seconds, free_port, load_average, process, python_module
from benchmarks.wrk_tools import WrkResult, run_wrk
from tests.support.soap import event_xml, push_event_envelope, push_events_envelope

HEADERS_ONE = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}
HEADERS_MANY = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvents"}
CTX = "<firstName>Ann</firstName><resetUrl>https://shop.example/reset?t=abc123</resetUrl>"


def _say(text: str) -> None:
    print(text, flush=True, file=sys.stderr)


def _median(results: list[WrkResult], attribute: str) -> float:
    return float(statistics.median(getattr(r, attribute) for r in results))


def main() -> None:
    """Run the rounds and print a markdown table of medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100, help="events per PushEvents call")
    parser.add_argument(
        "--workers", type=int, default=2, help="processing workers per instance (0: intake only)"
    )
    options = parser.parse_args()

    one = push_event_envelope(event_xml(ctx=CTX)).encode()
    many = push_events_envelope(
        [event_xml(email=f"user{i}@example.com", ctx=CTX) for i in range(options.batch)]
    ).encode()
    ceiling_port, single_port, batch_port = free_port(), free_port(), free_port()

    def instance_env(port: int) -> dict[str, str]:
        # One instance per scenario, default settings (workers on, INFO request logs): the
        # PushEvents backlog must not slow the single-event runs down, nor the reverse.
        return {
            "MCSIM_EXEC_PORT": str(port),
            "MCSIM_EXEC_DATA_DIR": tempfile.mkdtemp(prefix="mcsim-bench-"),
            "MCSIM_EXEC_EVENT_TYPES": '["PASSWORD_RESET"]',
            "MCSIM_EXEC_QUEUE_HARD_LIMIT": "100000000",
            "MCSIM_EXEC_WORKERS": str(options.workers),
        }

    single_env, batch_env = instance_env(single_port), instance_env(batch_port)
    results: dict[str, list[WrkResult]] = {"ceiling": [], "push_event": [], "push_events": []}
    # CPU time of the process serving each scenario, per request (µs), one entry a round.
    cpu_per_request: dict[str, list[float]] = {name: [] for name in results}
    loads: list[str] = []
    with (
        process(
            python_module("benchmarks.ceiling_app", str(ceiling_port)),
            health_url=f"http://127.0.0.1:{ceiling_port}/health",
        ) as ceiling_pid,
        process(
            python_module("execution_instance"),
            health_url=f"http://127.0.0.1:{single_port}/health",
            env=single_env,
        ) as single_pid,
        process(
            python_module("execution_instance"),
            health_url=f"http://127.0.0.1:{batch_port}/health",
            env=batch_env,
        ) as batch_pid,
    ):
        router = "/nl/jsp/soaprouter.jsp"
        for round_number in range(1, options.rounds + 1):
            for name, port, pid, body, headers in (
                ("ceiling", ceiling_port, ceiling_pid, one, HEADERS_ONE),
                ("push_event", single_port, single_pid, one, HEADERS_ONE),
                ("push_events", batch_port, batch_pid, many, HEADERS_MANY),
            ):
                loads.append(load_average())
                _say(
                    f"round {round_number}/{options.rounds}: {name} ({options.seconds} s, "
                    f"load average {loads[-1]})…"
                )
                cpu_before = cpu_seconds(pid)
                result = run_wrk(
                    f"http://127.0.0.1:{port}{router}",
                    body=body,
                    headers=headers,
                    connections=options.connections,
                    seconds=options.seconds,
                )
                cpu = (cpu_seconds(pid) - cpu_before) / max(result.requests, 1) * 1e6
                cpu_per_request[name].append(cpu)
                _say(
                    f"  {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                    f"p99 {result.p99_ms:.1f} ms, errors {result.errors}, "
                    f"server CPU {cpu:,.0f} µs/request"
                )
                results[name].append(result)
    stored = sum(
        sqlite3.connect(Path(env["MCSIM_EXEC_DATA_DIR"]) / "execution-1.sqlite3")
        .execute("SELECT count(*) FROM events")
        .fetchone()[0]
        for env in (single_env, batch_env)
    )
    acknowledged = sum(r.requests - r.errors for r in results["push_event"]) + options.batch * sum(
        r.requests - r.errors for r in results["push_events"]
    )
    ceiling = _median(results["ceiling"], "requests_per_s")
    single = _median(results["push_event"], "requests_per_s")
    batch_events = _median(results["push_events"], "requests_per_s") * options.batch
    ceiling_cpu = statistics.median(cpu_per_request["ceiling"])
    print("| scenario | median throughput | p50 | p99 | vs ceiling | server CPU/request |")
    print("|---|---|---|---|---|---|")
    for name, label, rate in (
        ("ceiling", "bare FastAPI, fixed answer", ceiling),
        ("push_event", "PushEvent, 1 event/call", single),
        ("push_events", f"PushEvents, {options.batch} events/call (events/s)", batch_events),
    ):
        p50, p99 = _median(results[name], "p50_ms"), _median(results[name], "p99_ms")
        ratio = f"{rate / ceiling:.2f}x" if name != "push_events" else "-"
        cpu = statistics.median(cpu_per_request[name])
        cpu_text = f"{cpu:,.0f} µs" + (
            f" ({ceiling_cpu / cpu:.2f}x the ceiling's speed)" if name == "push_event" else ""
        )
        print(f"| {label} | {rate:,.0f}/s | {p50:.1f} ms | {p99:.1f} ms | {ratio} | {cpu_text} |")
    print(f"\nload average before each run: {'; '.join(loads)}")
    print(f"stored events: {stored:,}; acknowledged by a 2xx answer: {acknowledged:,}")
    if stored < acknowledged:
        raise SystemExit("an acknowledged event is missing from the database")


if __name__ == "__main__":
    main()
