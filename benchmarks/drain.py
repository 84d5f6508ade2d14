"""CPU per event of draining a backlog, process by process (issue 15).

Starts ``mcsim up --demo --instances 1`` (its defaults) on free loopback ports in a fresh data
directory, pushes ``PushEvents`` of 100 ~1 KB events to the execution instance with wrk -c8 for
``--seconds`` (intake outruns processing, a backlog forms), then waits until mid-sourcing has
captured every stored event. For every process of the stack it reports the CPU time it used
from the first push until the last capture, divided by the events: the execution instance's
web and processing processes apart. No echo and no ratio: the figure is meant for comparing
two versions of the code (``--rounds`` runs, each on a new stack; run two checkouts one after
the other, alternated, and compare the medians), and it moves much less with a busy machine
than a rate does, since it counts CPU, not time.

    .venv/bin/python -m benchmarks.drain --rounds 3
    cd /tmp/base && PYTHONPATH=/tmp/base .venv/bin/python -m benchmarks.drain   # another checkout

At the end of each round every captured message is counted against the events stored: a
missing or duplicated one makes the script exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.stack import (
    BATCH,
    CTX,
    HEADERS_MANY,
    ROUTER,
    CaptureStore,
    _imported_from,
    _processes,
    _stored,
)
from benchmarks.wrk_tools import run_wrk
from tests.support.soap import event_xml, push_events_envelope
from tests.support.stack import StackRunner, free_ports


def _say(text: str) -> None:
    print(text, flush=True, file=sys.stderr)


def _cpu(services: dict[str, int]) -> dict[str, float]:
    """Return the CPU seconds of every process of the stack, by service and child."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, info in table.items():
        children.setdefault(info.ppid, []).append(pid)
    used: dict[str, float] = {}
    for service, root in services.items():
        if root not in table:
            continue
        used[service] = table[root].own
        for number, child in enumerate(sorted(children.get(root, []))):
            # An execution instance forks its web processes first, then its processing ones.
            used[f"{service} child {number + 1}"] = table[child].own
    return used


async def _round(number: int, options: argparse.Namespace, env: dict[str, str]) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="mcsim-drain-"))
    try:
        with StackRunner.start(
            folder / "data", "--demo", ports=free_ports(1), instances=1, env=env
        ) as stack:
            stack.wait_ready(timeout=120)
            store = CaptureStore(stack.mid_url)
            try:
                await asyncio.sleep(options.settle)
                base = await store.finished()
                stored0 = _stored(stack.data_dir, 1) or 0
                body = push_events_envelope(
                    [event_xml(email=f"b{i}@example.com", ctx=CTX) for i in range(BATCH)]
                ).encode()
                before, started = _cpu(stack.pids()), time.monotonic()
                result = await asyncio.to_thread(
                    run_wrk,
                    stack.exec_url(1) + ROUTER,
                    body=body,
                    headers=HEADERS_MANY,
                    connections=8,
                    seconds=options.seconds,
                )
                # Calls wrk had in flight when it stopped are stored after it: wait for them too.
                stored, drained = -1, None
                while stored != (_stored(stack.data_dir, 1) or 0) - stored0:
                    stored = (_stored(stack.data_dir, 1) or 0) - stored0
                    drained = await store.wait_for(
                        base + stored, label=f"round {number}", poll=0.5, limit=options.limit
                    )
                    if drained is None:
                        break
                after, seconds = _cpu(stack.pids()), time.monotonic() - started
                captured = await store.finished() - base
            finally:
                await store.close()
        if drained is None or captured != stored:
            raise SystemExit(f"round {number}: {captured:,} captured for {stored:,} stored")
        per_event = {name: (after[name] - before[name]) / stored * 1e6 for name in after}
        per_event["whole stack"] = sum(per_event.values())
        _say(
            f"round {number}: {result.requests * BATCH:,} events acknowledged, {stored:,} "
            f"stored and captured in {seconds:.1f} s ({stored / seconds:,.0f} events/s); "
            + ", ".join(f"{name} {value:,.0f}" for name, value in per_event.items())
            + " µs/event"
        )
        return per_event
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _run(options: argparse.Namespace) -> None:
    checkout = Path.cwd()
    env = {
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(checkout), os.environ.get("PYTHONPATH")) if p
        ),
        "MCSIM_MID_RETENTION_MAX_MESSAGES": "10000000",
    }
    imported = _imported_from(env)
    if not imported.is_relative_to(checkout):
        raise SystemExit(f"the services would import {imported}, not this checkout {checkout}")
    _say(f"code from {imported.parent}")
    rounds = [await _round(n, options, env) for n in range(1, options.rounds + 1)]
    print("\n| process | CPU µs per event, median (rounds) |\n|---|---|")
    for name in rounds[0]:
        values = [r.get(name, 0.0) for r in rounds]
        listed = ", ".join(f"{v:,.0f}" for v in values)
        print(f"| {name} | {statistics.median(values):,.0f} ({listed}) |")


def main() -> None:
    """Run the rounds and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4, help="length of the wrk run")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds after ready")
    parser.add_argument("--limit", type=float, default=300.0, help="longest drain, seconds")
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
