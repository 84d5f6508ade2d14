"""Chaos, long form (issue 17, item 2): sustained load through faults, then an audit of every event.

The demo stack runs with a fault proxy on each link (``tests/support/faultstack.py``) and an SMTP
relay (aiosmtpd) behind mid-sourcing, on the embedded SQLite default or on a throw-away
PostgreSQL cluster of its own (``--database postgres``; never the shared server). REST clients
(retrying with their ``Idempotency-Key``) and SOAP clients (retrying only what was never
acknowledged, as a new attempt) push ``--rate`` events a second through the load balancer while
the fault schedule of ``tests/support/chaos.py`` plays ``--rounds`` times, one fault every
``--every`` seconds: every process type SIGKILLed (execution instance, one of its web and
processing processes, mid-sourcing, load balancer, control instance), an instance partitioned
from mid-sourcing, a hung and a paused mid-sourcing, a paused instance, links reset and slowed,
and with PostgreSQL a database restart and a database cut off.

Printed: events under fault (first sent while a fault was active or not yet recovered), faults
survived, lost, duplicated, the at-least-once window (mid-sourcing SIGKILLed between an SMTP
send and its commit; counted, not hidden), time to recover per fault, and how long the backlog
took to drain once the load stopped. Exit code 1 when anything was lost or duplicated.

    .venv/bin/python -m benchmarks.chaos --database postgres --rounds 3 --rate 10
    mcsim bench chaos -- --database sqlite --rounds 1
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

from benchmarks.processes import load_average
from tests.support.chaos import FaultRecord, Load, Step, audit_stack, run_with_faults, schedule
from tests.support.faultstack import start_fault_stack
from tests.support.pgcluster import PgCluster
from tests.support.smtp import SmtpSink


def _say(text: str) -> None:
    print(text, flush=True, file=sys.stderr)


def _under_fault(load: Load, records: list[FaultRecord]) -> int:
    """Count the events first sent while a fault was active or not yet recovered from."""
    started = load.started_at
    windows = [
        (r.injected_at, max(r.ended_at, r.injected_at) + (r.recovered_s or 0.0)) for r in records
    ]
    count = 0
    for event in load.events:
        first = event.attempts[0].started - started
        if any(begin <= first <= end for begin, end in windows):
            count += 1
    return count


def _recovery_table(records: list[FaultRecord]) -> list[str]:
    by_name: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if record.recovered_s is not None:
            by_name[record.name].append(record.recovered_s)
    lines = ["| fault | times | survived | time to recover (median / worst) |", "|---|---|---|---|"]
    seen: dict[str, list[FaultRecord]] = defaultdict(list)
    for record in records:
        seen[record.name].append(record)
    for name, tries in seen.items():
        survived = sum(1 for r in tries if r.error is None)
        times = by_name.get(name)
        recover = (
            f"{statistics.median(times):.1f} s / {max(times):.1f} s"
            if times
            else "n/a (lifted, nothing to wait for)"
        )
        lines.append(f"| {name} | {len(tries)} | {survived} | {recover} |")
    return lines


def main() -> int:
    """Run the chaos benchmark and print its figures; 1 if anything was lost or duplicated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=3, help="times the fault schedule plays")
    parser.add_argument("--every", type=float, default=6.0, help="seconds between two faults")
    parser.add_argument("--hold", type=float, default=4.0, help="seconds a link fault lasts")
    parser.add_argument("--rate", type=float, default=10.0, help="events a second (REST + SOAP)")
    parser.add_argument(
        "--handoff-retry-max",
        type=float,
        default=None,
        help="MCSIM_EXEC_HANDOFF_RETRY_MAX_SECONDS (default: the service's, 60 s)",
    )
    options = parser.parse_args()
    env = {}
    if options.handoff_retry_max is not None:
        env["MCSIM_EXEC_HANDOFF_RETRY_MAX_SECONDS"] = str(options.handoff_retry_max)
    with ExitStack() as stack_of:
        folder = Path(stack_of.enter_context(tempfile.TemporaryDirectory(prefix="mcsim-chaos-")))
        pg = stack_of.enter_context(PgCluster.start()) if options.database == "postgres" else None
        relay = stack_of.enter_context(SmtpSink())
        _say(f"starting the stack ({options.database}) in {folder}")
        stack = stack_of.enter_context(
            start_fault_stack(
                folder / "data",
                relay,
                database_url=pg.url if pg else None,
                database_port=pg.port if pg else None,
                env=env,
            )
        )
        steps: list[Step] = []
        for round_ in range(options.rounds):
            these = schedule(stack, every=options.every, hold=options.hold, database=pg)
            offset = round_ * len(these) * options.every
            for step in these:
                step.at += offset
            steps += these
        seconds = steps[-1].at + options.every
        _say(
            f"{len(steps)} faults over {seconds:.0f} s at {options.rate:g} events/s "
            f"(load average {load_average()})"
        )
        load = Load(stack.lb_url, rate=options.rate, seconds=seconds, run=str(time.time_ns()))
        records = asyncio.run(run_with_faults(load, steps))
        for record in records:
            _say(
                f"{record.injected_at:6.1f} s  {record.name}: "
                + (f"error {record.error}" if record.error else f"recovered {record.recovered_s}")
            )
        _say("load over; auditing every event")
        result = audit_stack(load, relay, stack, drain_timeout=300)
    survived = sum(1 for r in records if r.error is None)
    print(f"database: {options.database}; load average at the end {load_average()}")
    print(f"events under fault: {_under_fault(load, records)} of {result.logical}")
    print(f"faults survived: {survived} of {len(records)}")
    print(f"lost: {len(result.lost)}; duplicated: {len(result.duplicated)}")
    for line in result.lines():
        print(line)
    print()
    print("\n".join(_recovery_table(records)))
    return 0 if result.clean and survived == len(records) else 1


if __name__ == "__main__":
    raise SystemExit(main())
