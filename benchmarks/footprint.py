"""Footprint of an idle `mcsim up --demo` (issue 15 item 5): the PSS of every process.

Starts `mcsim up --demo` (two execution instances unless told) on free loopback ports in a
temporary data directory, waits until it is ready and then ``--settle`` seconds (the demo's
set-up and a few archiving passes), sends nothing, and sums the proportional set size
(``Pss`` of ``/proc/<pid>/smaps_rollup``: a page shared by n processes counts 1/n in each) of
the supervisor and every process below it, by service. ``--rounds`` starts the stack that many
times; the table gives each process's median. Target: <= 400 MiB in all.

    .venv/bin/python -m benchmarks.footprint                  # or: mcsim bench footprint
    .venv/bin/python -m benchmarks.footprint --up-args "--web-processes 1 --processing-processes 0"
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.support.stack import StackRunner, free_ports

TARGET_MIB = 400.0


def _pss_kib(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return None


def _children() -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        found.setdefault(ppid, []).append(int(entry.name))
    return found


def _name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if "-m" in words:
        return words[words.index("-m") + 1]
    return Path(words[0]).name if words else "?"


def measure(stack: StackRunner) -> dict[str, list[float]]:
    """Return the PSS (MiB) of each process of the stack, grouped by service."""
    services = {pid: name for name, pid in stack.pids().items()}
    children = _children()
    result: dict[str, list[float]] = {"supervisor": []}
    supervisor = _pss_kib(stack.process.pid)
    if supervisor is not None:
        result["supervisor"].append(supervisor / 1024)
    for root, service in services.items():
        pending = [root]
        while pending:
            pid = pending.pop()
            pss = _pss_kib(pid)
            if pss is not None:
                result.setdefault(service, []).append(pss / 1024)
            pending.extend(children.get(pid, []))
    return result


def main() -> None:
    """Start the stack ``--rounds`` times and print the PSS table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--settle", type=float, default=25.0, help="seconds idle after ready")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--up-args", default="", help="more options for mcsim up")
    options = parser.parse_args()
    rounds: list[dict[str, list[float]]] = []
    for n in range(1, options.rounds + 1):
        folder = Path(tempfile.mkdtemp(prefix="mcsim-footprint-"))
        try:
            with StackRunner.start(
                folder / "data",
                "--demo",
                *shlex.split(options.up_args),
                ports=free_ports(options.instances),
                instances=options.instances,
                env={"PYTHONPATH": os.getcwd()},
            ) as stack:
                stack.wait_ready(timeout=120)
                time.sleep(options.settle)
                rounds.append(measure(stack))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        total = sum(sum(values) for values in rounds[-1].values())
        print(f"round {n}: {total:.0f} MiB", file=sys.stderr, flush=True)
    print("| service | processes | PSS (MiB, median of the rounds) | per process |")
    print("|---|---|---|---|")
    totals = []
    for service in rounds[0]:
        sums = [sum(r.get(service, [])) for r in rounds]
        counts = [len(r.get(service, [])) for r in rounds]
        each = ", ".join(f"{v:.0f}" for v in sorted(rounds[-1].get(service, []), reverse=True))
        print(f"| {service} | {max(counts)} | {statistics.median(sums):.0f} | {each} |")
    for r in rounds:
        totals.append(sum(sum(values) for values in r.values()))
    median = statistics.median(totals)
    verdict = "met" if median <= TARGET_MIB else "**missed**"
    print(
        f"| **total** | | **{median:.0f}** (rounds: {', '.join(f'{t:.0f}' for t in totals)}) | "
        f"target <= {TARGET_MIB:.0f}: {verdict} |"
    )


if __name__ == "__main__":
    main()
