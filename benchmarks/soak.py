"""Soak (issue 17, item 5): half the delivered capacity for half an hour, watched for growth.

``mcsim up --demo`` (two execution instances, every setting at its default: mid-sourcing captures
every message and keeps its newest 50,000) runs on free loopback ports in a fresh data
directory. Its delivered capacity is measured first, as ``mcsim bench stack`` measures it
(``--capacity-events`` single PushEvent calls through the balancer, 32 in flight, first send
until all captured), unless ``--rate`` gives the load. Then half of it is held for ``--minutes``
through the load balancer, paced: every other event a REST event (``POST
/acme/campaign/mcacme/EVTPASSWORD_RESET``), the others a SOAP PushEvent, each to an address of
its own and sent once (no retry: an unanswered event is counted as an error).

Every ``--every`` seconds a sample records, for every process of the stack (by service and role:
``execution-1/web-0``, ``load_balancer/worker-0``, ``supervisor``, ...): PSS, RSS and the part
of RSS shared with other processes (``/proc/PID/smaps_rollup``: RSS less its private pages) and
open file descriptors; the execution instances' pending events
(``/nl/jsp/mcPing.jsp``) and mid-sourcing's messages not yet final (``queued`` and ``sending`` of
``/api/v1/messages/counts``); the data directory's size; the event → capture latency percentiles
of the events checked in the interval; the CPU milliseconds per event sent in the interval, of
each service's process tree and of the whole stack (the idle stack's CPU use is measured for
``IDLE_SECONDS`` before the load); errors. Every few seconds a checker lists the messages of
the events sent a few seconds before (their addresses share a prefix per 5-second slot): each
acknowledged event must be captured exactly once with a final status, within
``CHECK_GIVE_UP`` seconds (well inside mid-sourcing's retention of 50,000 messages).

At the end: a table over time, and a verdict per series, from its thirds (first, middle, last
third of the samples). A series *still grows* when the last third's maximum (for queues,
latency, open files and CPU, which move with the load and the connections in flight: the
median) exceeds the middle third's by more than its tolerance (5 % of the middle third's value,
and at least 2 MiB, 8 descriptors, 20 events, 20 ms for p50, 100 ms for p99, 0.5 ms of CPU per
event: 3-minute runs of the same code differed by 0.4); otherwise it *levelled off*, or is
*flat* when the three thirds are within the tolerance of each other (a warm-up over within the
first third is flat). The least-squares slopes of the first and last thirds are
printed beside it. The samples go to ``--out`` (JSON).

Reading the memory series: RSS counts every page a process has in memory, shared or not; PSS
divides each shared page among the processes sharing it. A worker forked from its master starts
with most of its pages shared; each page it writes to (a reference count is enough) is copied
and becomes its own (copy-on-write). Its PSS then grows while its RSS does not, and its shared
part shrinks by as much: that growth ends when the pages it writes to are all copied, and
cannot exceed what it shared at the start. A leak grows RSS. Exit code 1 when an acknowledged event
was not captured exactly once.

    .venv/bin/python -m benchmarks.soak --minutes 30          # or: mcsim bench soak
    mcsim bench soak -- --minutes 2 --every 10 --rate 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.footprint import _children
from benchmarks.lean_client import LeanClient
from benchmarks.processes import load_average
from benchmarks.stack import (
    FINAL,
    ROUTER,
    WALL,
    Bench,
    CaptureStore,
    CpuMeter,
    _envelope,
    _percentile,
)
from services.dev_credentials import TECHNICAL_TOKEN
from tests.support.chaos import EVENTS
from tests.support.processes import StackProcesses
from tests.support.stack import StackRunner, free_ports

SOAP_HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}
REST_HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {TECHNICAL_TOKEN}"}
#: Width of an address slot (s): the checker lists one slot's messages at a time.
SLOT = 5.0
#: A slot is first checked this long after it ends, and given up (its missing events counted)
#: this long after it ends.
CHECK_AFTER = 5.0
CHECK_GIVE_UP = 60.0
PLID = "<plId xsi:type='xsd:long'>"
#: Seconds the idle stack's CPU use is measured before the load.
IDLE_SECONDS = 10.0
#: The name of the whole stack in the CPU series.
STACK = "whole stack"


def _say(text: str) -> None:
    print(text, flush=True, file=sys.stderr)


# -- verdicts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What a series did over the run, from its thirds."""

    verdict: str  # "flat", "levelled off", "still growing", "too short"
    first: float  # the statistic of each third
    middle: float
    last: float
    tolerance: float
    slope_first: float  # least-squares slope of the first and last thirds, per minute
    slope_last: float


def _slope(times: Sequence[float], values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean_t, mean_v = statistics.fmean(times), statistics.fmean(values)
    spread = sum((t - mean_t) ** 2 for t in times)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in zip(times, values, strict=True)) / spread


def judge(
    minutes: Sequence[float],
    values: Sequence[float],
    *,
    floor: float,
    fraction: float = 0.05,
    statistic: Callable[[Sequence[float]], float] = max,
) -> Verdict:
    """Judge a series sampled at ``minutes``: still growing when its last third's ``statistic``
    exceeds the middle third's by more than ``max(floor, fraction * middle)``."""
    points = [(t, v) for t, v in zip(minutes, values, strict=True) if not math.isnan(v)]
    if len(points) < 6:
        return Verdict("too short", math.nan, math.nan, math.nan, floor, 0.0, 0.0)
    third = len(points) // 3
    parts = [points[:third], points[third : len(points) - third], points[len(points) - third :]]
    first, middle, last = (float(statistic([v for _, v in part])) for part in parts)
    tolerance = max(floor, fraction * abs(middle))
    slopes = [_slope([t for t, _ in part], [v for _, v in part]) for part in (parts[0], parts[2])]
    if last > middle + tolerance:
        verdict = "still growing"
    elif max(first, middle, last) - min(first, middle, last) <= tolerance:
        verdict = "flat"
    else:
        verdict = "levelled off"
    return Verdict(verdict, first, middle, last, tolerance, slopes[0], slopes[1])


# -- what a sample reads -------------------------------------------------------------------------


def _memory_kib(pid: int) -> tuple[int, int, int] | None:
    """Return (PSS, RSS, private) of ``pid`` in KiB, from /proc/PID/smaps_rollup."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    found = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in {"Pss", "Rss", "Private_Clean", "Private_Dirty"}:
            found[name] = int(rest.split()[0])
    private = found.get("Private_Clean", 0) + found.get("Private_Dirty", 0)
    return found.get("Pss", 0), found.get("Rss", 0), private


def _open_files(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def _folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total


def read_processes(stack: StackRunner, procs: StackProcesses) -> dict[str, dict[str, int]]:
    """Return pid, PSS and RSS (KiB) and open files of every process, by ``service/role``."""
    children = _children()
    found: dict[str, dict[str, int]] = {}

    def add(series: str, pid: int) -> None:
        memory, files = _memory_kib(pid), _open_files(pid)
        if memory is not None and files is not None:
            pss, rss, private = memory
            found[series] = {"pid": pid, "pss": pss, "rss": rss, "private": private, "fds": files}

    add("supervisor", stack.process.pid)
    for service, root in stack.pids().items():
        add(f"{service}/main", root)
        roles = {pid: role for role, pid in procs.processes(service)}
        pending = list(children.get(root, []))
        while pending:
            pid = pending.pop()
            add(f"{service}/{roles.get(pid, f'child-{pid}')}", pid)
            pending.extend(children.get(pid, []))
    return found


async def read_queues(
    http: httpx.AsyncClient, stack: StackRunner, instances: int
) -> dict[str, int]:
    """Return each execution instance's pending events and mid-sourcing's unfinished messages."""
    queues: dict[str, int] = {}
    for k in range(1, instances + 1):
        try:
            answer = await http.get(stack.exec_url(k) + "/nl/jsp/mcPing.jsp")
            line = next(x for x in answer.text.splitlines() if x.endswith("pending events"))
            queues[f"execution-{k}"] = int(line.split("/", 1)[0])
        except (httpx.HTTPError, StopIteration, ValueError):
            queues[f"execution-{k}"] = -1
    try:
        answer = await http.get(stack.mid_url + "/api/v1/messages/counts")
        by_status = answer.json()["byStatus"]
        queues["midsourcing"] = sum(int(n) for s, n in by_status.items() if s not in FINAL)
    except (httpx.HTTPError, ValueError, KeyError):
        queues["midsourcing"] = -1
    return queues


# -- the load and its audit ----------------------------------------------------------------------


@dataclass
class Sent:
    """One event sent: its kind, when (epoch seconds), and whether it was acknowledged."""

    kind: str
    at: float
    acked: bool = False


@dataclass
class Tally:
    """What the load and the checker found so far (the totals; a sample takes differences)."""

    sent: int = 0
    acked: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    captured_once: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unacked_captured: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # since the last sample


class Soak:
    """The paced load through the balancer, and the checker of its slots."""

    def __init__(self, stack: StackRunner, run: str) -> None:
        self.stack = stack
        self.run = run
        self.slots: dict[int, dict[str, Sent]] = {}
        self.tally = Tally()
        self.started = 0.0

    def slot_prefix(self, slot: int) -> str:
        """Return the address prefix of ``slot`` (distinct from every other slot's)."""
        return f"soak{self.run}s{slot:05d}x"

    async def load(self, rate: float, seconds: float) -> None:
        """Send ``rate`` events a second for ``seconds``, REST and SOAP in turn."""
        rest = LeanClient("127.0.0.1", self.stack.ports.lb, REST_HEADERS)
        soap = LeanClient("127.0.0.1", self.stack.ports.lb, SOAP_HEADERS)
        head, tail = _envelope("{address}").split("{address}")
        tasks: set[asyncio.Task[None]] = set()

        async def post(address: str, sent: Sent) -> None:
            try:
                if sent.kind == "rest":
                    body = json.dumps(
                        {
                            "email": address,
                            "ctx": {"firstName": "Ann", "resetUrl": "https://s.test/r"},
                        }
                    ).encode()
                    status, answer = await rest.post(EVENTS, body)
                    sent.acked = status in {200, 201}
                else:
                    status, answer = await soap.post(ROUTER, f"{head}{address}{tail}".encode())
                    sent.acked = status == 200 and PLID.encode() in answer
                if sent.acked:
                    self.tally.acked += 1
                else:
                    self.tally.errors[f"{sent.kind} HTTP {status}"] += 1
            except (ConnectionError, TimeoutError) as exc:
                self.tally.errors[f"{sent.kind} {type(exc).__name__}"] += 1

        self.started = start = time.monotonic()
        n = 0
        try:
            while (now := time.monotonic()) - start < seconds:
                slot = int((now - start) // SLOT)
                address = f"{self.slot_prefix(slot)}{n}@example.com"
                sent = Sent("rest" if n % 2 == 0 else "soap", time.time())
                self.slots.setdefault(slot, {})[address] = sent
                self.tally.sent += 1
                task = asyncio.create_task(post(address, sent))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            await asyncio.gather(*tasks)
        finally:
            rest.close()
            soap.close()

    async def check(self, http: httpx.AsyncClient, *, final: bool = False) -> None:
        """Check every slot old enough (``final``: every slot left; give up on none too soon)."""
        elapsed = time.monotonic() - self.started
        for slot in sorted(self.slots):
            ended = (slot + 1) * SLOT
            if not final and elapsed < ended + CHECK_AFTER:
                break
            give_up = final or elapsed > ended + CHECK_GIVE_UP
            if await self._check_slot(http, slot, give_up=give_up):
                del self.slots[slot]

    async def _check_slot(self, http: httpx.AsyncClient, slot: int, *, give_up: bool) -> bool:
        """Check one slot; return whether it is done with (all found, or given up)."""
        events = self.slots[slot]
        seen: dict[int, dict[str, Any]] = {}
        offset = 0
        while True:
            answer = await http.get(
                self.stack.mid_url + "/api/v1/messages",
                params={"recipient": self.slot_prefix(slot), "limit": 1000, "offset": offset},
            )
            answer.raise_for_status()
            page = answer.json()
            for message in page["messages"]:
                if not message["proof"]:
                    seen[int(message["id"])] = message
            offset += len(page["messages"])
            if not page["messages"] or offset >= page["total"]:
                break
        copies: Counter[str] = Counter()
        finished: dict[str, float] = {}
        for message in seen.values():
            if message["status"] in FINAL and message["finishedAt"]:
                copies[message["to"]] += 1
                moment = message["finishedAt"].replace("Z", "+00:00")
                finished[message["to"]] = datetime.fromisoformat(moment).timestamp()
        acked = [a for a, s in events.items() if s.acked]
        if not give_up and any(copies[a] == 0 for a in acked):
            return False  # not all captured yet: look again later
        tally = self.tally
        for address, sent in events.items():
            if not sent.acked:
                tally.unacked_captured += copies[address] > 0
            elif copies[address] == 0:
                tally.missing.append(address)
            elif copies[address] > 1:
                tally.duplicated.append(address)
            else:
                tally.captured_once += 1
                tally.latencies_ms.append((finished[address] - sent.at) * 1000)
        return True


# -- samples -------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One reading of the stack, ``minute`` minutes into the soak."""

    minute: float
    processes: dict[str, dict[str, int]]
    queues: dict[str, int]
    data_mib: float
    latency_ms: dict[str, float]
    events_per_s: float
    errors: int
    load_average: str
    #: CPU milliseconds per event sent in the interval, by service and for the whole stack.
    cpu_ms_per_event: dict[str, float] = field(default_factory=dict)


def _latency(values: list[float]) -> dict[str, float]:
    return {
        "n": float(len(values)),
        "p50": _percentile(values, 0.5),
        "p99": _percentile(values, 0.99),
        "max": max(values) if values else math.nan,
    }


def _series(samples: list[Sample]) -> dict[str, tuple[list[float], list[float], float, str]]:
    """Return every judged series: (minutes, values, tolerance floor, statistic name)."""
    found: dict[str, tuple[list[float], list[float], float, str]] = {}

    def add(name: str, minute: float, value: float, floor: float, stat: str) -> None:
        found.setdefault(name, ([], [], floor, stat))
        found[name][0].append(minute)
        found[name][1].append(value)

    for s in samples:
        for series, p in s.processes.items():
            add(f"PSS MiB {series}", s.minute, p["pss"] / 1024, 2.0, "max")
            add(f"RSS MiB {series}", s.minute, p["rss"] / 1024, 2.0, "max")
            if "private" in p:  # samples of an older run may not have it
                shared = (p["rss"] - p["private"]) / 1024
                add(f"shared MiB {series}", s.minute, shared, 2.0, "max")
            add(f"open files {series}", s.minute, p["fds"], 8.0, "median")
        total = sum(p["pss"] for p in s.processes.values()) / 1024
        add("PSS MiB, whole stack", s.minute, total, 2.0, "max")
        for queue, depth in s.queues.items():
            add(f"queue {queue}", s.minute, depth if depth >= 0 else math.nan, 20.0, "median")
        add("latency p50 ms", s.minute, s.latency_ms["p50"], 20.0, "median")
        add("latency p99 ms", s.minute, s.latency_ms["p99"], 100.0, "median")
        add("data directory MiB", s.minute, s.data_mib, 2.0, "max")
        for service, ms in s.cpu_ms_per_event.items():
            add(f"CPU ms/event {service}", s.minute, ms, 0.5, "median")
    return found


def cpu_per_event(
    before: dict[str, float], after: dict[str, float], events: int
) -> dict[str, float]:
    """Return the CPU milliseconds per event of each service (process tree) and of the whole
    stack (supervisor included, the load generator not) between two :class:`CpuMeter` readings."""
    names = [n for n in after if n not in {WALL, "echo", "load generator"}]
    used = {n: max(0.0, after[n] - before.get(n, after[n])) for n in names}
    per_event = {n: used[n] * 1000 / max(events, 1) for n in names}
    per_event[STACK] = sum(used.values()) * 1000 / max(events, 1)
    return per_event


def _report(
    samples: list[Sample], soak: Soak, rate: float, idle: float, options: argparse.Namespace
) -> None:
    services = sorted({k.split("/")[0] for s in samples for k in s.processes})
    print(f"\nHeld {rate:,.0f} events/s for {options.minutes:g} min through the balancer\n")
    print(
        "| min | events/s | errors | stack PSS MiB | "
        + " | ".join(f"{name} PSS" for name in services)
        + " | open files | queues (pending events; mid unfinished) | latency p50 / p99 ms | "
        "data MiB | stack CPU ms/event | load average |"
    )
    print("|---|---|---|---|" + "---|" * len(services) + "---|---|---|---|---|---|")
    for s in samples:
        by_service = {
            name: sum(p["pss"] for k, p in s.processes.items() if k.split("/")[0] == name) / 1024
            for name in services
        }
        queues = ", ".join(f"{k} {v}" for k, v in s.queues.items())
        print(
            f"| {s.minute:.1f} | {s.events_per_s:,.0f} | {s.errors} | "
            f"{sum(by_service.values()):,.0f} | "
            + " | ".join(f"{by_service[name]:,.0f}" for name in services)
            + f" | {sum(p['fds'] for p in s.processes.values())} | {queues} | "
            f"{s.latency_ms['p50']:.0f} / {s.latency_ms['p99']:.0f} | {s.data_mib:,.0f} | "
            f"{s.cpu_ms_per_event.get(STACK, math.nan):.2f} | {s.load_average} |"
        )
    cpu_names = sorted(
        {n for s in samples for n in s.cpu_ms_per_event}, key=lambda n: (n == STACK, n)
    )
    medians = {
        n: statistics.median([s.cpu_ms_per_event[n] for s in samples if n in s.cpu_ms_per_event])
        for n in cpu_names
    }
    print(
        f"\nIdle stack before the load: {idle * 100:.1f} % of a core. CPU ms per event sent "
        "(each service's process tree; medians of the samples): "
        + ", ".join(f"{n} {medians[n]:.2f}" for n in cpu_names)
    )
    print(
        "\nVerdicts, from the thirds of the samples: still growing when the last third's max "
        "(queues, latency: median) exceeds the middle third's by more than the tolerance "
        "(5 %, at least the floor); slopes per minute by least squares.\n"
    )
    print(
        "| series | first third | middle third | last third | tolerance | slope first / last "
        "third per min | verdict |"
    )
    print("|---|---|---|---|---|---|---|")
    statistics_by_name: dict[str, Callable[[Sequence[float]], float]] = {
        "max": max,
        "median": statistics.median,
    }
    for name, (minutes, values, floor, stat) in _series(samples).items():
        v = judge(minutes, values, floor=floor, statistic=statistics_by_name[stat])
        mark = f"**{v.verdict}**" if v.verdict == "still growing" else v.verdict
        print(
            f"| {name} | {v.first:,.1f} | {v.middle:,.1f} | {v.last:,.1f} | {v.tolerance:,.1f} | "
            f"{v.slope_first:+,.2f} / {v.slope_last:+,.2f} | {mark} |"
        )
    restarted = sorted(
        name
        for name in {k for s in samples for k in s.processes}
        if len({s.processes[name]["pid"] for s in samples if name in s.processes}) > 1
    )
    if restarted:
        print(f"\nprocesses whose pid changed during the run: {', '.join(restarted)}")


async def _soak(
    options: argparse.Namespace, stack: StackRunner
) -> tuple[list[Sample], Soak, float, float]:
    store = CaptureStore(stack.mid_url)
    procs = StackProcesses(stack)
    http = httpx.AsyncClient(timeout=30, trust_env=False)
    try:
        rate = options.rate
        if rate is None:
            # mcsim bench stack's scenario 2; the echo is not run (pid 0: no process).
            capacity = argparse.Namespace(
                events=options.capacity_events, drain_timeout=600.0, instances=options.instances
            )
            bench = Bench(capacity, stack, 0, CpuMeter(stack, 0), store)
            bench.captured0, bench.stored0 = await store.finished(), bench.stored()
            rate = await bench.delivered("capacity:", 1) / 2
        meter = CpuMeter(stack, 0)
        before = meter.now()
        await asyncio.sleep(IDLE_SECONDS)
        idle = meter.stack_total() - sum(before[n] for n in [*meter.services, "supervisor"])
        idle /= IDLE_SECONDS
        _say(
            f"idle stack: {idle * 100:.1f} % of a core; holding {rate:,.0f} events/s for "
            f"{options.minutes:g} min (load average {load_average()})"
        )
        soak = Soak(stack, str(time.time_ns() % 10**9))
        seconds = options.minutes * 60
        loader = asyncio.create_task(soak.load(rate, seconds))
        samples: list[Sample] = []
        last_sent, last_errors, last_at, last_cpu = 0, 0, time.monotonic(), meter.now()
        next_sample = time.monotonic() + options.every
        while not loader.done():
            await asyncio.sleep(min(CHECK_AFTER, max(0.0, next_sample - time.monotonic())))
            await soak.check(http)
            if time.monotonic() < next_sample and not loader.done():
                continue
            next_sample += options.every
            processes = await asyncio.to_thread(read_processes, stack, procs)
            queues = await read_queues(http, stack, options.instances)
            data = await asyncio.to_thread(_folder_bytes, stack.data_dir)
            now, tally, cpu = time.monotonic(), soak.tally, meter.now()
            errors = sum(tally.errors.values())
            sample = Sample(
                minute=(now - soak.started) / 60,
                processes=processes,
                queues=queues,
                data_mib=data / 2**20,
                latency_ms=_latency(tally.latencies_ms),
                events_per_s=(tally.sent - last_sent) / (now - last_at),
                errors=errors - last_errors,
                load_average=load_average(),
                cpu_ms_per_event=cpu_per_event(last_cpu, cpu, tally.sent - last_sent),
            )
            tally.latencies_ms = []
            last_sent, last_errors, last_at, last_cpu = tally.sent, errors, now, cpu
            samples.append(sample)
            pss = sum(p["pss"] for p in processes.values()) / 1024
            _say(
                f"{sample.minute:5.1f} min: {sample.events_per_s:,.0f} events/s, "
                f"{sample.errors} errors {dict(tally.errors.most_common(3))}, "
                f"stack PSS {pss:,.0f} MiB, "
                f"{sum(p['fds'] for p in processes.values())} open files, queues {queues}, "
                f"CPU {sample.cpu_ms_per_event[STACK]:.2f} ms/event, "
                f"latency p50 {sample.latency_ms['p50']:.0f} ms p99 "
                f"{sample.latency_ms['p99']:.0f} ms, data {sample.data_mib:,.0f} MiB; captured "
                f"once {tally.captured_once:,} of {tally.acked:,} acknowledged, missing "
                f"{len(tally.missing)}, duplicated {len(tally.duplicated)} "
                f"(load average {sample.load_average})"
            )
        await loader
        _say("load over; waiting for the queues to drain, then checking the last slots")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if all(v == 0 for v in (await read_queues(http, stack, options.instances)).values()):
                break
            await asyncio.sleep(1)
        await asyncio.sleep(2)
        await soak.check(http, final=True)
        return samples, soak, rate, idle
    finally:
        await http.aclose()
        await store.close()


def main() -> None:
    """Run the soak and print its table and verdicts."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the load is held")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between two samples")
    parser.add_argument(
        "--rate", type=float, default=None, help="events/s to hold (default: half the capacity)"
    )
    parser.add_argument("--capacity-events", type=int, default=3000)
    parser.add_argument("--instances", type=int, default=2, help="execution instances")
    parser.add_argument("--out", type=Path, default=None, help="samples as JSON (default: /tmp)")
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory")
    options = parser.parse_args()
    checkout = Path(__file__).resolve().parents[1]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out: Path = options.out or Path(tempfile.gettempdir()) / f"mcsim-soak-{stamp}.json"
    folder = Path(tempfile.mkdtemp(prefix="mcsim-soak-"))
    try:
        with StackRunner.start(
            folder / "data",
            "--demo",
            ports=free_ports(options.instances),
            instances=options.instances,
            env={"PYTHONPATH": str(checkout)},
        ) as stack:
            stack.wait_ready(timeout=120)
            _say(f"mcsim up --demo ready: {stack.pids()}; data dir {stack.data_dir}")
            samples, soak, rate, idle = asyncio.run(_soak(options, stack))
    finally:
        if options.keep_data:
            _say(f"data kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    tally = soak.tally
    out.write_text(
        json.dumps(
            {
                "rate": rate,
                "idleStackCpu": idle,
                "options": {k: str(v) for k, v in vars(options).items()},
                "samples": [asdict(s) for s in samples],
                "tally": {
                    "sent": tally.sent,
                    "acked": tally.acked,
                    "errors": dict(tally.errors),
                    "capturedOnce": tally.captured_once,
                    "missing": tally.missing,
                    "duplicated": tally.duplicated,
                    "unackedCaptured": tally.unacked_captured,
                },
            },
            indent=1,
        )
    )
    _report(samples, soak, rate, idle, options)
    print(
        f"\nevents sent {tally.sent:,}, acknowledged {tally.acked:,}, captured exactly once "
        f"{tally.captured_once:,}, missing {len(tally.missing):,}, duplicated "
        f"{len(tally.duplicated):,}; not acknowledged {tally.sent - tally.acked:,} "
        f"({dict(tally.errors)}), of which captured {tally.unacked_captured:,}"
    )
    print(f"samples written to {out}")
    lost = tally.missing or tally.duplicated or tally.captured_once != tally.acked
    raise SystemExit(1 if lost else 0)


if __name__ == "__main__":
    main()
