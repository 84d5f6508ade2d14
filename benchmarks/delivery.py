"""End-to-end benchmark (issue 4): event accepted → message accepted by a real SMTP relay.

One execution instance and the mid-sourcing server run as processes on the embedded SQLite
default; the relay is aiosmtpd in a process of its own (``benchmarks/relay.py``), which stamps
each arrival with ``time.time()``, the clock this process stamps its sends with.

1. Throughput: N events pushed with PushEvents (100 a call), timed until the relay has them all.
2. Latency: single PushEvent calls at half the measured end-to-end throughput; for each event,
   the time from sending it to the relay accepting its message; p50 and p99.

Each phase also reports the CPU time each process spent per message (the execution instance,
mid-sourcing, the relay, and this process: the load generator) and the load average, since the
machine is shared: CPU per message moves far less with other people's load than throughput.

    .venv/bin/python -m benchmarks.delivery --events 5000 --latency-seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.lean_client import LeanClient
from benchmarks.processes import cpu_seconds, free_port, load_average, process, python_module
from benchmarks.relay import RelayProcess
from services.dev_credentials import CONTROL_PLANE
from tests.support.soap import event_xml, push_event_envelope, push_events_envelope

TEMPLATE = {
    "event_type": "PASSWORD_RESET",
    "channel": 0,
    "version": 1,
    "content": {
        "from_name": "Acme",
        "from_address": "noreply@acme.test",
        "subject": "Reset your password, <%= rtEvent.ctx.firstName %>",
        "html": "<p>Hello <%= rtEvent.ctx.firstName %>, "
        "<a href='<%= rtEvent.ctx.resetUrl %>'>reset</a></p>",
        "text": "Hello <%= rtEvent.ctx.firstName %>: <%= rtEvent.ctx.resetUrl %>",
    },
}
CTX = "<firstName>Ann</firstName><resetUrl>https://shop.example/reset?t=abc</resetUrl>"
HEADERS = {"content-type": "text/xml; charset=utf-8"}
ROUTER = "/nl/jsp/soaprouter.jsp"


def _say(text: str) -> None:
    print(text, flush=True, file=sys.stderr)


class CpuMeter:
    """CPU seconds used by each process over a phase: the two services, the relay, this one."""

    def __init__(self, exec_pid: int, mid_pid: int, relay_pid: int) -> None:
        self.pids = {"execution": exec_pid, "mid-sourcing": mid_pid, "relay": relay_pid}
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        used = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        used["load generator"] = time.process_time()
        return used

    def per_message(self, messages: int) -> str:
        """Return each process's CPU time per message since the phase began, in µs."""
        now = self._now()
        parts = [f"{name} {(now[name] - self.start[name]) / messages * 1e6:,.0f}" for name in now]
        return "CPU µs/message: " + ", ".join(parts)


async def _throughput(client: LeanClient, sink: RelayProcess, events: int) -> float:
    started = time.monotonic()
    bodies = [
        push_events_envelope(
            [
                event_xml(email=f"t{n}@example.com", ctx=CTX)
                for n in range(first, min(first + 100, events))
            ]
        ).encode()
        for first in range(0, events, 100)
    ]
    semaphore = asyncio.Semaphore(4)

    async def send(body: bytes) -> None:
        async with semaphore:
            status, answer = await client.post(ROUTER, body)
            assert status == 200, answer.decode()

    await asyncio.gather(*(send(body) for body in bodies))
    accepted = time.monotonic() - started
    _say(f"  {events} events accepted in {accepted:.2f} s ({events / accepted:,.0f}/s)")
    while sink.count() < events:
        await asyncio.sleep(0.05)
        if time.monotonic() - started > 300:
            raise SystemExit(f"only {sink.count()} of {events} messages arrived in 300 s")
    elapsed = time.monotonic() - started
    _say(f"  {events} messages at the relay after {elapsed:.2f} s")
    return events / elapsed


async def _latency(
    client: LeanClient, sink: RelayProcess, rate: float, seconds: float
) -> tuple[list[float], float]:
    """Return each event's send-to-relay time (ms) and the send rate reached (events/s)."""
    # Every event differs by its address only: the envelope is built once, split around it.
    head, tail = push_event_envelope(event_xml(email="{address}", ctx=CTX)).split("{address}")
    sent: dict[str, float] = {}
    base = sink.count()
    interval = 1 / rate
    tasks = []
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        address = f"l{n}@example.com"
        body = f"{head}{address}{tail}".encode()
        sent[address] = time.time()  # the relay stamps arrivals with time.time()
        tasks.append(asyncio.create_task(client.post(ROUTER, body)))
        n += 1
        await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
    achieved = n / (time.monotonic() - start)  # below ``rate`` when this process is starved
    answers = await asyncio.gather(*tasks)
    refused = [body.decode() for status, body in answers if status != 200]
    assert not refused, refused[:3]
    deadline = time.monotonic() + 60
    while sink.count() - base < len(sent) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    arrived = sink.arrivals()
    missing = len(sent) - sum(1 for a in sent if a in arrived)
    if missing:
        _say(f"  {missing} of {len(sent)} messages did not arrive within 60 s")
    return [(arrived[a] - t) * 1000 for a, t in sent.items() if a in arrived], achieved


async def _main(options: argparse.Namespace) -> None:
    data = Path(tempfile.mkdtemp(prefix="mcsim-e2e-"))
    exec_port, mid_port = free_port(), free_port()
    with RelayProcess() as sink:
        mid_env = {
            "MCSIM_MID_PORT": str(mid_port),
            "MCSIM_MID_DATA_DIR": str(data),
            "MCSIM_MID_SMTP_HOST": sink.host,
            "MCSIM_MID_SMTP_PORT": str(sink.port),
            "MCSIM_MID_LOG_LEVEL": "WARNING",
        }
        exec_env = {
            "MCSIM_EXEC_PORT": str(exec_port),
            "MCSIM_EXEC_DATA_DIR": str(data),
            "MCSIM_EXEC_MIDSOURCING_URL": f"http://127.0.0.1:{mid_port}",
            "MCSIM_EXEC_QUEUE_HARD_LIMIT": "10000000",
            "MCSIM_EXEC_LOG_LEVEL": "WARNING",
        }
        with (
            process(
                python_module("midsourcing"),
                health_url=f"http://127.0.0.1:{mid_port}/health",
                env=mid_env,
            ) as mid_pid,
            process(
                python_module("execution_instance"),
                health_url=f"http://127.0.0.1:{exec_port}/health",
                env=exec_env,
            ) as exec_pid,
        ):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{exec_port}") as admin:
                published = await admin.put(
                    "/_mc/templates/reset", json=TEMPLATE, auth=CONTROL_PLANE, timeout=60
                )
                assert published.status_code == 200, published.text
            # The events go through a lean client (lean_client.py): with httpx the generator
            # took a fifth of the machine's CPU at 1,000 events/s, away from the stack measured.
            client = LeanClient("127.0.0.1", exec_port, HEADERS)
            try:
                _say(f"throughput: {options.events} events (load average {load_average()}) …")
                meter = CpuMeter(exec_pid, mid_pid, sink.pid)
                throughput = await _throughput(client, sink, options.events)
                throughput_cpu = meter.per_message(options.events)
                _say(f"  {throughput_cpu}")
                rate = options.rate or throughput * 0.5
                _say(
                    f"latency: single PushEvent at {rate:,.0f}/s for {options.latency_seconds} s "
                    f"(load average {load_average()}) …"
                )
                meter = CpuMeter(exec_pid, mid_pid, sink.pid)
                samples, achieved = await _latency(client, sink, rate, options.latency_seconds)
                latencies = sorted(samples)
                latency_cpu = meter.per_message(len(latencies))
                _say(f"  {latency_cpu}; load average {load_average()}")
            finally:
                client.close()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print("| measure | value | target |")
    print("|---|---|---|")
    print(
        f"| delivered messages/s (event accepted → relay accepted) | {throughput:,.0f} | ≥ 1,000 |"
    )
    sent_at = f"{achieved:,.0f} events/s sent (asked {rate:,.0f})"
    print(f"| event-to-delivery p50 at {sent_at} | {p50:.1f} ms | ≤ 50 ms |")
    print(f"| event-to-delivery p99 at {sent_at} | {p99:.1f} ms | ≤ 250 ms |")
    print(f"\n{len(latencies)} latency samples; load average at the end {load_average()}")
    print(f"throughput phase {throughput_cpu}")
    print(f"latency phase {latency_cpu}")


def main() -> None:
    """Run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="events/s for the latency run (default: half the throughput)",
    )
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
