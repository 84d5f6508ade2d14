"""The default stack as users run it (issue 15): every event processed and captured.

``mcsim up --demo --instances 1`` runs on free loopback ports in a fresh data directory, with its
defaults (INFO logs, the demo's published PASSWORD_RESET email template, mid-sourcing capturing
every message), beside the bare FastAPI echo of ``ceiling_app.py`` in the same run. Every round
runs each scenario right after an echo round of the same shape; a scenario ends 6 s after its
drain (every stored event captured), so that its events are in one archiving pass of the control
instance, and nothing overlaps. The stack's own CPU use during each echo round is reported: it is
not nil, the control instance's archiving re-reads the latest events every pass.

1. single PushEvent (~1 KB) to execution instance 1's own port, wrk -c32 for ``--seconds``;
   then the backlog drains: every stored event captured before anything else runs;
2. ``--events`` single PushEvent calls through the load balancer, 32 in flight, timed from the
   first send until the capture store holds them all (messages/s, against the echo's wrk -c32);
3. single PushEvent through the balancer at half the rate of 2 for ``--latency-seconds``: for
   each event (its own recipient) the capture time (``finishedAt``) minus the send time;
   the echo is paced the same way and timed by its answers;
4. PushEvents of 100 events to execution instance 1, wrk -c8, against the echo's wrk -c8 with
   the same 100-event body; then the drain.

Captured means a final status in mid-sourcing's ``GET /api/v1/messages/counts``. CPU time is
read from /proc for each service's whole process tree (workers a service forks included) and
given per captured event, less what each process used when idle before the first event; the
load generator is this process plus wrk. At the end every
message is listed: each stored event must be captured exactly once (exit 1 otherwise).

    .venv/bin/python -m benchmarks.stack --rounds 3 --seconds 8 --events 2000

The mid-sourcing server's retention cap (50,000 captured messages) is raised for the run, so
that its housekeeping does not delete messages before they are counted: the only setting that
differs from ``mcsim up``'s defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks.lean_client import LeanClient
from benchmarks.processes import free_port, load_average, process, python_module
from benchmarks.wrk_tools import WrkResult, run_wrk
from tests.support.soap import event_xml, push_event_envelope, push_events_envelope
from tests.support.stack import StackRunner, free_ports

ROUTER = "/nl/jsp/soaprouter.jsp"
HEADERS_ONE = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}
HEADERS_MANY = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvents"}
#: The demo's PASSWORD_RESET email template uses firstName and resetUrl; the rest of the context
#: is what a shop sends along (about 1 KB an envelope in all).
CTX = (
    "<firstName>Ann</firstName><lastName>Example</lastName>"
    "<resetUrl>https://shop.acme.test/account/reset?token=3f9c2a7e5b1d4c8fa06e92b7d4c1e5f83a2b"
    "9c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f</resetUrl><expiresAt>2026-12-07T05:00:00Z</expiresAt>"
    "<customerId>C-0001234567</customerId><locale>en-GB</locale><brand>Acme Shop</brand>"
    "<ip>203.0.113.42</ip><userAgent>Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36</userAgent>"
    "<supportUrl>https://help.acme.test/account/password-reset</supportUrl>"
    "<requestedFrom>https://shop.acme.test/login?returnTo=%2Faccount%2Forders</requestedFrom>"
    "<campaign>transactional-password-reset-2026</campaign><channelHint>email</channelHint>"
)
FINAL = ("sent", "failed", "ignored")
BATCH = 100
IN_FLIGHT = 32
SINGLE = "1. PushEvent, wrk -c32"
DELIVERED = "2. delivered, 32 in flight"
LATENCY = "3. latency, paced"
BATCHED = f"4. PushEvents({BATCH}), wrk -c8"
#: Retention cap of captured messages for the run (mid-sourcing's default is 50,000).
RETENTION = "10000000"
WALL = "wall clock"
#: Seconds a scenario lasts after its drain: longer than the control instance's archiving interval
#: (5 s), whose passes pull the events just processed from the execution instances.
SETTLE_WINDOW = 6.0


def _say(text: str) -> None:
    print(text, flush=True, file=sys.stderr)


def _median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def _percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values`` (NaN when there is none)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def _envelope(address: str) -> str:
    return push_event_envelope(event_xml(email=address, ctx=CTX))


# -- CPU time of process trees -------------------------------------------------------------------


@dataclass(frozen=True)
class _Proc:
    ppid: int
    own: float  # user + system seconds of the process itself
    reaped: float  # ... of its children that exited and were waited for


def _processes() -> dict[int, _Proc]:
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, _Proc] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        # After the command name (in parentheses): state, ppid, ... utime, stime, cutime, cstime.
        fields = stat.rsplit(")", 1)[1].split()
        times = [int(f) / tick for f in fields[11:15]]
        found[int(entry.name)] = _Proc(int(fields[1]), times[0] + times[1], times[2] + times[3])
    return found


def tree_cpu_seconds(
    roots: dict[str, int], table: dict[int, _Proc] | None = None
) -> dict[str, float]:
    """Return the CPU time used by each root pid and every process below it (Linux).

    Descendants that exited count through the reaped times of the process that waited for them.
    """
    table = _processes() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, info in table.items():
        children.setdefault(info.ppid, []).append(pid)
    used: dict[str, float] = {}
    for name, root in roots.items():
        total, pending = 0.0, [root]
        while pending:
            pid = pending.pop()
            if pid in table:
                total += table[pid].own + table[pid].reaped
                pending.extend(children.get(pid, []))
        used[name] = total
    return used


class CpuMeter:
    """CPU seconds of every service of the stack (process trees), its supervisor, the echo, and
    the load generator (this process and the wrk runs it waited for)."""

    def __init__(self, stack: StackRunner, echo_pid: int) -> None:
        self.services = stack.pids()
        self.supervisor = stack.process.pid
        self.echo = echo_pid

    def now(self) -> dict[str, float]:
        """Return the CPU seconds used so far, by process name (and the time, as ``WALL``)."""
        table = _processes()
        used = tree_cpu_seconds({**self.services, "echo": self.echo}, table)
        supervisor = table.get(self.supervisor)
        used["supervisor"] = supervisor.own if supervisor is not None else 0.0
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        used["load generator"] = time.process_time() + children.ru_utime + children.ru_stime
        used[WALL] = time.monotonic()
        return used

    def stack_total(self) -> float:
        """Return the CPU seconds of the stack's processes (supervisor included)."""
        used = self.now()
        return sum(used[name] for name in [*self.services, "supervisor"])

    def names(self) -> list[str]:
        """Return the column names of a CPU table: services, supervisor, load generator."""
        return [*self.services, "supervisor", "load generator"]


def _per_event(
    before: dict[str, float], after: dict[str, float], events: int, idle: dict[str, float]
) -> dict[str, float]:
    """Return each process's CPU µs per event between two readings, net of its idle use."""
    seconds = after[WALL] - before[WALL]
    return {
        name: (after[name] - before[name] - idle.get(name, 0.0) * seconds) / max(events, 1) * 1e6
        for name in after
        if name != WALL
    }


# -- the capture store ---------------------------------------------------------------------------


class CaptureStore:
    """The mid-sourcing server's captured messages, read through its API."""

    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=120)

    async def counts(self) -> dict[str, Any]:
        """Return ``GET /api/v1/messages/counts`` (total, byStatus, byChannel, proofs)."""
        answer = await self.http.get("/api/v1/messages/counts")
        answer.raise_for_status()
        counts: dict[str, Any] = answer.json()
        return counts

    async def finished(self) -> int:
        """Return how many messages are captured with a final status."""
        by_status = (await self.counts())["byStatus"]
        return sum(int(by_status.get(status, 0)) for status in FINAL)

    async def wait_for(self, target: int, *, label: str, poll: float, limit: float) -> float | None:
        """Wait until ``target`` messages are captured; return the seconds waited (None: never)."""
        started = last_said = time.monotonic()
        while True:
            done = await self.finished()
            now = time.monotonic()
            if done >= target:
                return now - started
            if now - started > limit:
                _say(f"  {label}: only {done:,} of {target:,} captured after {limit:.0f} s")
                return None
            if now - last_said >= 5:
                _say(f"  {label}: {done:,} of {target:,} captured after {now - started:.0f} s")
                last_said = now
            await asyncio.sleep(poll)

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield every message, newest first, a page of 1,000 at a time."""
        offset = 0
        while True:
            answer = await self.http.get(
                "/api/v1/messages", params={"limit": 1000, "offset": offset}
            )
            answer.raise_for_status()
            messages: list[dict[str, Any]] = answer.json()["messages"]
            if not messages:
                return
            yield messages
            offset += len(messages)

    async def finished_at(self, recipients: set[str]) -> dict[str, float]:
        """Return when each of ``recipients`` was captured (epoch seconds), newest pages first."""
        found: dict[str, float] = {}
        async for page in self.pages():
            for message in page:
                if message["to"] in recipients and message["finishedAt"]:
                    moment = datetime.fromisoformat(message["finishedAt"].replace("Z", "+00:00"))
                    found[message["to"]] = moment.timestamp()
            if len(found) == len(recipients):
                break
        return found

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


def _stored(data_dir: Path, instances: int) -> int | None:
    """Return the events stored by the execution instances (None: not SQLite under the dir)."""
    total = 0
    for k in range(1, instances + 1):
        path = data_dir / f"execution-{k}.sqlite3"
        if not path.exists():
            return None
        try:
            with closing(sqlite3.connect(path, timeout=30)) as db:
                total += int(db.execute("SELECT count(*) FROM events").fetchone()[0])
        except sqlite3.Error:
            return None
    return total


# -- results -------------------------------------------------------------------------------------


@dataclass
class Results:
    """Every round's measures, and the events the stack acknowledged."""

    echo32: list[WrkResult] = field(default_factory=list)
    single: list[WrkResult] = field(default_factory=list)
    single_drain: list[float | None] = field(default_factory=list)
    delivered: list[float] = field(default_factory=list)
    delivered_accepted: list[float] = field(default_factory=list)
    pace: list[tuple[float, float]] = field(default_factory=list)  # (asked, reached) events/s
    latency_p50: list[float] = field(default_factory=list)
    latency_p99: list[float] = field(default_factory=list)
    latency_missing: int = 0
    echo_p50: list[float] = field(default_factory=list)
    echo_p99: list[float] = field(default_factory=list)
    echo8: list[WrkResult] = field(default_factory=list)
    batch: list[WrkResult] = field(default_factory=list)
    batch_drain: list[float | None] = field(default_factory=list)
    cpu: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    loads: list[str] = field(default_factory=list)
    acknowledged: int = 0
    refused: int = 0
    idle: float = 0.0  # the stack's CPU use before any event, in cores
    after_drain: dict[str, list[float]] = field(default_factory=dict)  # ... after each drain
    during_echo: dict[str, list[float]] = field(default_factory=dict)  # ... in echo rounds

    def load(self, label: str) -> str:
        """Record and return the load average before ``label``."""
        now = load_average()
        self.loads.append(f"{label}: {now}")
        return now


class Bench:
    """The running stack, the echo, and what the scenarios need to reach them."""

    def __init__(
        self,
        options: argparse.Namespace,
        stack: StackRunner,
        echo_port: int,
        meter: CpuMeter,
        store: CaptureStore,
    ) -> None:
        self.options = options
        self.stack = stack
        self.echo_port = echo_port
        self.meter = meter
        self.store = store
        self.results = Results()
        self.exec_url = stack.exec_url(1)
        self.echo_url = f"http://127.0.0.1:{echo_port}"
        self.one = _envelope("ann@example.com").encode()
        self.many = push_events_envelope(
            [event_xml(email=f"b{i}@example.com", ctx=CTX) for i in range(BATCH)]
        ).encode()
        self.captured0 = 0
        self.stored0: int | None = None
        self.idle: dict[str, float] = {}  # each process's CPU use before any event

    # -- helpers ---------------------------------------------------------------------------------

    def stored(self) -> int | None:
        """Return the events the execution instances stored."""
        return _stored(self.stack.data_dir, self.options.instances)

    def target(self) -> int:
        """Return how many messages must be captured once everything accepted so far is."""
        acknowledged = self.captured0 + self.results.acknowledged
        stored = self.stored()
        if stored is None or self.stored0 is None:
            return acknowledged
        return max(acknowledged, self.captured0 + stored - self.stored0)

    async def wrk(
        self, url: str, body: bytes, headers: dict[str, str], connections: int
    ) -> WrkResult:
        """Run wrk against ``url`` + the SOAP router for ``--seconds``."""
        return await asyncio.to_thread(
            run_wrk,
            url + ROUTER,
            body=body,
            headers=headers,
            connections=connections,
            seconds=self.options.seconds,
        )

    async def tail(self, scenario: str) -> None:
        """Wait ``SETTLE_WINDOW`` seconds after a drain (one archiving pass of the control
        instance over the scenario's events), and record the stack's CPU use meanwhile."""
        before = self.meter.stack_total()
        await asyncio.sleep(SETTLE_WINDOW)
        busy = (self.meter.stack_total() - before) / SETTLE_WINDOW
        self.results.after_drain.setdefault(scenario, []).append(busy)
        _say(
            f"  stack CPU in the {SETTLE_WINDOW:g} s after the drain: {busy * 100:.0f} % of a core"
        )

    async def drain(self, label: str) -> float | None:
        """Wait until every stored event is captured; return the seconds it took."""
        drained = await self.store.wait_for(
            self.target(), label=label, poll=0.5, limit=self.options.drain_timeout
        )
        if drained is not None:
            _say(f"  {label}: drained in {drained:.1f} s")
        return drained

    async def measure_idle(self) -> None:
        """Measure each process's CPU use before any event (seconds per second)."""
        before = self.meter.now()
        await asyncio.sleep(SETTLE_WINDOW)
        after = self.meter.now()
        stack = [*self.meter.services, "supervisor"]
        self.idle = {name: (after[name] - before[name]) / SETTLE_WINDOW for name in stack}
        self.results.idle = sum(self.idle.values())
        _say(f"idle stack: {self.results.idle * 100:.1f} % of a core")

    def record_cpu(self, scenario: str, before: dict[str, float], events: int) -> None:
        """Record the CPU per event of ``scenario`` since ``before``; print it."""
        per_event = _per_event(before, self.meter.now(), events, self.idle)
        self.results.cpu.setdefault(scenario, []).append(per_event)
        parts = ", ".join(f"{name} {per_event[name]:,.0f}" for name in self.meter.names())
        _say(f"  CPU µs/event: {parts}")

    # -- scenarios -------------------------------------------------------------------------------

    async def echo_wrk(
        self, label: str, body: bytes, headers: dict[str, str], connections: int
    ) -> WrkResult:
        """One echo round of wrk."""
        _say(f"{label} (load average {self.results.load(label)})…")
        before, started = self.meter.now(), time.monotonic()
        result = await self.wrk(self.echo_url, body, headers, connections)
        cpu = self.echo_cpu(label, before, started, result.requests)
        _say(
            f"  {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, errors {result.errors}, {cpu}"
        )
        return result

    def echo_cpu(self, label: str, before: dict[str, float], started: float, requests: int) -> str:
        """Record the echo's CPU per request, and the stack's own CPU use, in an echo round."""
        after, seconds = self.meter.now(), time.monotonic() - started
        per_request = (after["echo"] - before["echo"]) / max(requests, 1) * 1e6
        stack = [*self.meter.services, "supervisor"]
        busy = sum(after[name] - before[name] for name in stack) / seconds
        kind = label.split(": ", 1)[1]
        self.results.cpu.setdefault(kind, []).append({"echo": per_request})
        self.results.during_echo.setdefault(kind, []).append(busy)
        return (
            f"echo CPU {per_request:,.0f} µs/request; the stack meanwhile "
            f"{busy * 100:.0f} % of a core"
        )

    async def single(self, label: str) -> None:
        """Scenario 1: wrk -c32 single PushEvent to execution instance 1, then the drain."""
        results = self.results
        results.echo32.append(
            await self.echo_wrk(
                f"{label} echo: wrk -c{IN_FLIGHT}", self.one, HEADERS_ONE, IN_FLIGHT
            )
        )
        _say(
            f"{label} 1. PushEvent, wrk -c{IN_FLIGHT} (load average {results.load(label + ' 1')})…"
        )
        base = await self.store.finished()
        before = self.meter.now()
        result = await self.wrk(self.exec_url, self.one, HEADERS_ONE, IN_FLIGHT)
        results.acknowledged += result.requests - result.errors
        results.refused += result.errors
        _say(
            f"  {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, errors {result.errors}"
        )
        results.single.append(result)
        results.single_drain.append(await self.drain("PushEvent backlog"))
        await self.tail(SINGLE)
        self.record_cpu(SINGLE, before, await self.store.finished() - base)

    async def delivered(self, label: str, round_number: int) -> float:
        """Scenario 2: ``--events`` PushEvent calls through the balancer until all captured."""
        results = self.results
        events = self.options.events
        _say(
            f"{label} 2. delivered: {events:,} PushEvent calls through the balancer, "
            f"{IN_FLIGHT} in flight (load average {results.load(label + ' 2')})…"
        )
        head, tail = _envelope("{address}").split("{address}")
        bodies = [f"{head}d{round_number}-{n}@example.com{tail}".encode() for n in range(events)]
        client = LeanClient("127.0.0.1", self.stack.ports.lb, HEADERS_ONE)
        base = await self.store.finished()
        before = self.meter.now()
        answered: list[int] = []
        queue = iter(bodies)

        async def sender() -> None:
            for body in queue:
                try:
                    status, _ = await client.post(ROUTER, body)
                except (ConnectionError, TimeoutError):
                    status = 0
                answered.append(status)

        started = time.monotonic()
        try:
            await asyncio.gather(*(sender() for _ in range(IN_FLIGHT)))
        finally:
            client.close()
        accepted = time.monotonic() - started
        ok = sum(1 for status in answered if status == 200)
        results.acknowledged += ok
        results.refused += len(answered) - ok
        _say(f"  {ok:,} of {events:,} accepted in {accepted:.2f} s ({ok / accepted:,.0f}/s)")
        waited = await self.store.wait_for(
            base + ok, label="delivered", poll=0.1, limit=self.options.drain_timeout
        )
        elapsed = accepted + (waited or math.nan)
        rate = ok / elapsed
        _say(f"  {ok:,} captured {elapsed:.2f} s after the first send: {rate:,.0f} messages/s")
        results.delivered.append(rate)
        results.delivered_accepted.append(ok / accepted)
        await self.drain("delivered backlog")  # a refused-but-stored event, if any
        await self.tail(DELIVERED)
        self.record_cpu(DELIVERED, before, await self.store.finished() - base)
        return rate

    async def _paced(
        self, port: int, rate: float, prefix: str
    ) -> tuple[dict[str, float], dict[str, float], float, int]:
        """Send single PushEvents to ``port`` at ``rate`` for ``--latency-seconds``.

        Return each acknowledged event's send time (epoch seconds) and answer time (ms) by
        recipient, the rate reached and how many were not acknowledged.
        """
        head, tail = _envelope("{address}").split("{address}")
        client = LeanClient("127.0.0.1", port, HEADERS_ONE)
        sent: dict[str, float] = {}
        answers: dict[str, float] = {}
        failed = 0

        async def post(address: str, body: bytes) -> None:
            nonlocal failed
            started = time.perf_counter()
            try:
                status, _ = await client.post(ROUTER, body)
            except (ConnectionError, TimeoutError):
                status = 0
            if status == 200:
                answers[address] = (time.perf_counter() - started) * 1000
            else:
                failed += 1

        tasks = []
        interval = 1 / rate
        start = time.monotonic()
        n = 0
        try:
            while time.monotonic() - start < self.options.latency_seconds:
                address = f"{prefix}-{n}@example.com"
                body = f"{head}{address}{tail}".encode()
                sent[address] = time.time()  # mid-sourcing's finishedAt is wall-clock time too
                tasks.append(asyncio.create_task(post(address, body)))
                n += 1
                await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
            reached = n / (time.monotonic() - start)  # below ``rate`` when this process starves
            await asyncio.gather(*tasks)
        finally:
            client.close()
        return {a: sent[a] for a in answers}, answers, reached, failed

    async def latency(self, label: str, round_number: int, rate: float) -> None:
        """Scenario 3: paced single PushEvents through the balancer, send → capture time."""
        results = self.results
        seconds = self.options.latency_seconds
        _say(
            f"{label} echo: paced at {rate:,.0f}/s for {seconds:g} s "
            f"(load average {results.load(label + ' echo paced')})…"
        )
        before, started = self.meter.now(), time.monotonic()
        _, answers, reached, _ = await self._paced(self.echo_port, rate, f"e{round_number}")
        echo_ms = list(answers.values())
        cpu = self.echo_cpu(f"{label} echo: paced", before, started, len(echo_ms))
        results.echo_p50.append(_percentile(echo_ms, 0.5))
        results.echo_p99.append(_percentile(echo_ms, 0.99))
        _say(
            f"  {reached:,.0f}/s reached; answer p50 {results.echo_p50[-1]:.1f} ms, "
            f"p99 {results.echo_p99[-1]:.1f} ms; {cpu}"
        )
        _say(
            f"{label} 3. latency: PushEvent through the balancer at {rate:,.0f}/s for "
            f"{seconds:g} s (load average {results.load(label + ' 3')})…"
        )
        base = await self.store.finished()
        before = self.meter.now()
        sent, _, reached, failed = await self._paced(self.stack.ports.lb, rate, f"l{round_number}")
        results.acknowledged += len(sent)
        results.refused += failed
        results.pace.append((rate, reached))
        await self.store.wait_for(
            base + len(sent), label="latency", poll=0.2, limit=self.options.drain_timeout
        )
        captured = await self.store.finished_at(set(sent))
        missing = len(sent) - len(captured)
        results.latency_missing += missing
        samples = [(captured[a] - t) * 1000 for a, t in sent.items() if a in captured]
        results.latency_p50.append(_percentile(samples, 0.5))
        results.latency_p99.append(_percentile(samples, 0.99))
        _say(
            f"  {reached:,.0f}/s reached, {len(samples):,} captured ({failed} refused, {missing} "
            f"not found): p50 {results.latency_p50[-1]:.1f} ms, "
            f"p99 {results.latency_p99[-1]:.1f} ms"
        )
        await self.drain("latency backlog")
        await self.tail(LATENCY)
        self.record_cpu(LATENCY, before, await self.store.finished() - base)

    async def batch(self, label: str) -> None:
        """Scenario 4: wrk -c8 PushEvents(100) to execution instance 1, then the drain."""
        results = self.results
        results.echo8.append(
            await self.echo_wrk(
                f"{label} echo: wrk -c8 (100-event body)", self.many, HEADERS_MANY, 8
            )
        )
        _say(
            f"{label} 4. PushEvents({BATCH}), wrk -c8 (load average {results.load(label + ' 4')})…"
        )
        base = await self.store.finished()
        before = self.meter.now()
        result = await self.wrk(self.exec_url, self.many, HEADERS_MANY, 8)
        results.acknowledged += (result.requests - result.errors) * BATCH
        results.refused += result.errors * BATCH
        _say(
            f"  {result.requests_per_s:,.0f} req/s ({result.requests_per_s * BATCH:,.0f} "
            f"events/s), p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
            f"errors {result.errors}"
        )
        results.batch.append(result)
        results.batch_drain.append(await self.drain("PushEvents backlog"))
        await self.tail(BATCHED)
        self.record_cpu(BATCHED, before, await self.store.finished() - base)

    async def check(self) -> tuple[int | None, int, int, int, dict[str, int]]:
        """List every message: return stored, captured, distinct events, not sent, channels."""
        _say("checking: listing every message of the capture store…")
        events: Counter[str] = Counter()
        statuses: Counter[str] = Counter()
        channels: Counter[str] = Counter()
        async for page in self.store.pages():
            for message in page:
                if message["proof"]:
                    continue
                events[message["eventId"]] += 1
                statuses[message["status"]] += 1
                channels[message["channel"]] += 1
        stored = self.stored()
        if stored is not None and self.stored0 is not None:
            stored -= self.stored0
        captured = sum(events.values()) - self.captured0
        not_sent = sum(count for status, count in statuses.items() if status != "sent")
        return stored, captured, len(events) - self.captured0, not_sent, dict(channels)


# -- report --------------------------------------------------------------------------------------


def _ms_pair(p50: float, p99: float) -> str:
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def _verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def _report(bench: Bench, options: argparse.Namespace) -> None:
    r = bench.results
    echo32 = _median([x.requests_per_s for x in r.echo32])
    echo8 = _median([x.requests_per_s for x in r.echo8])
    single = _median([x.acknowledged_per_s for x in r.single])
    delivered = _median(r.delivered)
    batch_events = _median([x.acknowledged_per_s for x in r.batch]) * BATCH
    p50, p99 = _median(r.latency_p50), _median(r.latency_p99)
    echo_p50, echo_p99 = _median(r.echo_p50), _median(r.echo_p99)
    asked = _median([asked for asked, _ in r.pace])
    reached = _median([reached for _, reached in r.pace])
    drains1 = [d for d in r.single_drain if d is not None]
    drains4 = [d for d in r.batch_drain if d is not None]

    def drain_text(drains: list[float], all_: list[float | None]) -> str:
        missing = len(all_) - len(drains)
        text = f"drained in {_median(drains):.1f} s (median)" if drains else "never drained"
        return text + (f", {missing} round(s) not drained" if missing and drains else "")

    print(
        f"`mcsim up --demo --instances {options.instances}` (default settings but the capture "
        f"store's retention cap), "
        f"{options.rounds} rounds, medians; echo: bare FastAPI (benchmarks/ceiling_app.py)\n"
    )
    print("| scenario | mcsim | echo (same run) | ratio | target |")
    print("|---|---|---|---|---|")
    s1 = _median([x.p50_ms for x in r.single]), _median([x.p99_ms for x in r.single])
    e1 = _median([x.p50_ms for x in r.echo32]), _median([x.p99_ms for x in r.echo32])
    print(
        f"| 1. PushEvent (~{len(bench.one):,} B) to execution instance 1, wrk -c32 "
        f"{options.seconds} s | {single:,.0f} req/s ({_ms_pair(*s1)}); "
        f"{drain_text(drains1, r.single_drain)} | {echo32:,.0f} req/s ({_ms_pair(*e1)}) | "
        f"{single / echo32:.2f}x | ≥ 0.5x: {_verdict(single / echo32 >= 0.5)} |"
    )
    print(
        f"| 2. {options.events:,} PushEvents through the balancer, 32 in flight, first send → "
        f"all captured | {delivered:,.0f} msgs/s (accepted at "
        f"{_median(r.delivered_accepted):,.0f}/s) | {echo32:,.0f} req/s (wrk -c32) | "
        f"{delivered / echo32:.2f}x | ≥ 0.4x: {_verdict(delivered / echo32 >= 0.4)} |"
    )
    pace = f"{reached:,.0f}/s (asked {asked:,.0f}/s)"
    print(
        f"| 3. latency p50, PushEvent through the balancer at {pace}, send → captured | "
        f"{p50:.1f} ms | {echo_p50:.1f} ms (answer, same pace) | {p50 / echo_p50:.1f}x | "
        f"≤ 50 ms: {_verdict(p50 <= 50)} |"
    )
    print(
        f"| 3. latency p99, same | {p99:.1f} ms | {echo_p99:.1f} ms | {p99 / echo_p99:.1f}x | "
        f"≤ 250 ms: {_verdict(p99 <= 250)} |"
    )
    b4 = _median([x.p50_ms for x in r.batch]), _median([x.p99_ms for x in r.batch])
    print(
        f"| 4. PushEvents({BATCH}) to execution instance 1, wrk -c8 {options.seconds} s | "
        f"{batch_events:,.0f} events/s acknowledged ({_ms_pair(*b4)}; "
        f"{sum(x.errors for x in r.batch):,} calls refused in all, 503 when the queue is full); "
        f"{drain_text(drains4, r.batch_drain)} | "
        f"{echo8:,.0f} req/s (wrk -c8, same {len(bench.many) // 1024} KB body) | "
        f"{batch_events / echo8:.1f} events per echo request | "
        f"≥ 5: {_verdict(batch_events / echo8 >= 5)} |"
    )

    print("\nPer round:\n")
    print(
        "| round | echo -c32 req/s | 1. req/s | 1. drain | 2. msgs/s | echo paced p50 / p99 | "
        "3. p50 / p99 | echo -c8 req/s | 4. events/s | 4. drain |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")

    def seconds_text(value: float | None) -> str:
        return "not drained" if value is None else f"{value:.1f} s"

    for i in range(options.rounds):
        print(
            f"| {i + 1} | {r.echo32[i].requests_per_s:,.0f} | "
            f"{r.single[i].acknowledged_per_s:,.0f} | "
            f"{seconds_text(r.single_drain[i])} | {r.delivered[i]:,.0f} | "
            f"{r.echo_p50[i]:.1f} / {r.echo_p99[i]:.1f} ms | "
            f"{r.latency_p50[i]:.1f} / {r.latency_p99[i]:.1f} ms | "
            f"{r.echo8[i].requests_per_s:,.0f} | {r.batch[i].acknowledged_per_s * BATCH:,.0f} | "
            f"{seconds_text(r.batch_drain[i])} |"
        )

    names = bench.meter.names()
    print(
        "\nCPU µs per captured event (medians; each service's whole process tree; from the "
        f"start of a scenario until {SETTLE_WINDOW:g} s after its drain, less what the process "
        "used when idle before the first event), and the stack's CPU use in those last "
        "seconds:\n"
    )
    print("| scenario | " + " | ".join(names) + " | stack total | stack after the drain |")
    print("|---|" + "---|" * (len(names) + 2))
    stack_names = [n for n in names if n != "load generator"]
    for scenario, rounds in r.cpu.items():
        if scenario.startswith("echo"):
            continue
        medians = {name: _median([x[name] for x in rounds]) for name in names}
        total = _median([sum(x[n] for n in stack_names) for x in rounds])
        cells = " | ".join(f"{medians[name]:,.0f}" for name in names)
        after = _median(r.after_drain[scenario]) * 100
        print(f"| {scenario} | {cells} | {total:,.0f} | {after:.0f} % of a core |")
    echo = "; ".join(
        f"{kind[6:]}: {_median([x['echo'] for x in rounds]):,.0f} µs per request, the stack "
        f"meanwhile {_median(r.during_echo[kind]) * 100:.0f} % of a core"
        for kind, rounds in r.cpu.items()
        if kind.startswith("echo")
    )
    print(f"\necho rounds (medians): {echo}")
    print(f"idle stack before the first event: {r.idle * 100:.1f} % of a core")
    print("\nload average before each step: " + "; ".join(r.loads))


def _imported_from(env: dict[str, str]) -> Path:
    """Return the execution_instance package a service started with ``env`` imports."""
    probe = [sys.executable, "-c", "import execution_instance; print(execution_instance.__file__)"]
    found = subprocess.run(
        probe, env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    return Path(found.stdout.strip()).resolve()


async def _run(options: argparse.Namespace, checkout: Path, folder: Path) -> int:
    data_dir = folder / "data"
    echo_port = free_port()
    env = {
        # The services import this checkout's code, whatever the venv's editable install points to.
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(checkout), os.environ.get("PYTHONPATH")) if p
        ),
        "MCSIM_MID_RETENTION_MAX_MESSAGES": RETENTION,
    }
    extra = shlex.split(options.up_args)
    imported = _imported_from(env)
    if not imported.is_relative_to(checkout):
        raise SystemExit(f"the services would import {imported}, not this checkout {checkout}")
    _say(f"code from {imported.parent}; data dir {data_dir}; load average {load_average()}")
    code = 0
    try:
        with (
            process(
                python_module("benchmarks.ceiling_app", str(echo_port)),
                health_url=f"http://127.0.0.1:{echo_port}/health",
            ) as echo_pid,
            StackRunner.start(
                data_dir,
                "--demo",
                *extra,
                ports=free_ports(options.instances),
                instances=options.instances,
                env=env,
            ) as stack,
        ):
            stack.wait_ready(timeout=120)
            _say(f"mcsim up ready: {stack.pids()} (supervisor {stack.process.pid})")
            store = CaptureStore(stack.mid_url)
            bench = Bench(options, stack, echo_port, CpuMeter(stack, echo_pid), store)
            try:
                bench.captured0 = await store.finished()
                bench.stored0 = bench.stored()
                _say(f"{len(bench.one):,}-byte PushEvent, {len(bench.many):,}-byte PushEvents")
                await asyncio.sleep(SETTLE_WINDOW)  # the first archiving pass, the demo's set-up
                await bench.measure_idle()
                for n in range(1, options.rounds + 1):
                    label = f"round {n}/{options.rounds}:"
                    await bench.single(label)
                    rate = await bench.delivered(label, n)
                    await bench.latency(label, n, rate / 2)
                    await bench.batch(label)
                stored, captured, distinct, not_sent, channels = await bench.check()
            finally:
                await store.close()
        _report(bench, options)
        acknowledged = bench.results.acknowledged
        duplicated = captured - distinct
        stored_text = "unknown (not SQLite)" if stored is None else f"{stored:,}"
        print(
            f"\nevents stored: {stored_text}; acknowledged (2xx): {acknowledged:,}; captured: "
            f"{captured:,} ({distinct:,} distinct events, {duplicated:,} duplicated, "
            f"{not_sent:,} not 'sent'); by channel {channels}; refused or failed calls' events "
            f"{bench.results.refused:,}; latency events not found {bench.results.latency_missing}"
        )
        print(
            "(stored exceeds acknowledged by the calls wrk had in flight when it stopped: "
            f"up to {IN_FLIGHT} + 8 calls of {BATCH} events a round)"
        )
        expected = acknowledged if stored is None else max(stored, acknowledged)
        if duplicated or distinct != expected or (stored is not None and stored < acknowledged):
            print("**an acknowledged event is missing or duplicated**")
            code = 1
    finally:
        if options.keep_data:
            _say(f"data kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return code


def main() -> None:
    """Run the rounds and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--events", type=int, default=2000, help="events of scenario 2")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--instances", type=int, default=1, help="execution instances")
    parser.add_argument(
        "--drain-timeout", type=float, default=600.0, help="longest wait for a backlog (s)"
    )
    parser.add_argument(
        "--up-args", default="", help='more `mcsim up` options, e.g. "--log-level WARNING"'
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the data directory")
    options = parser.parse_args()
    checkout = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix="mcsim-stack-"))
    raise SystemExit(asyncio.run(_run(options, checkout, folder)))


if __name__ == "__main__":
    main()
