"""Load-balancer benchmark (issue 6): nginx and mcsim's balancer in front of the same backends.

Two backends (``benchmarks/lb_backend.py``: bare FastAPI under uvicorn, a fixed PushEvent
answer) run for the whole benchmark. nginx (Debian package ``nginx``, ``worker_processes auto``,
upstream keep-alive) and mcsim's load balancer (``python -m load_balancer``, once per worker
count asked for) are started in front of them, and wrk POSTs a SOAP PushEvent through each in
turn, round after round, the order rotating every round. The machine is shared and noisy, so the
table gives medians over the rounds and, for each balancer, the median of its per-round ratios
to nginx in the same round. It also gives the CPU time each proxy (all its processes) and the
two backends spent per request, read from /proc around every run: unlike throughput, that cost
hardly depends on what else the machine is doing.

    .venv/bin/python -m benchmarks.lb --seconds 10 --rounds 5 --workers 1,2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from contextlib import ExitStack

import httpx

from benchmarks.lb_cpu import cpu_seconds, started
from benchmarks.lb_nginx import nginx
from benchmarks.processes import free_port, python_module
from benchmarks.wrk_tools import WrkResult, run_wrk
from tests.support.soap import event_xml, push_event_envelope

HEADERS = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}
CTX = "<firstName>Ann</firstName><resetUrl>https://shop.example/reset?t=abc123</resetUrl>"
ROUTER = "/nl/jsp/soaprouter.jsp"


def _say(text: str) -> None:
    print(text, flush=True, file=sys.stderr)


def main() -> None:
    """Run the rounds and print a markdown table of medians and ratios to nginx."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", default="2", help="mcsim worker counts, comma-separated")
    parser.add_argument("--nginx-workers", default="auto")
    options = parser.parse_args()

    body = push_event_envelope(event_xml(ctx=CTX)).encode()
    backend_ports = [free_port(), free_port()]
    proxies: dict[str, int] = {"nginx": free_port()}
    worker_counts = [int(w) for w in options.workers.split(",")]
    for workers in worker_counts:
        proxies[f"mcsim, {workers} worker{'s' if workers > 1 else ''}"] = free_port()
    results: dict[str, list[WrkResult]] = {name: [] for name in proxies}
    proxy_cpu: dict[str, list[float]] = {name: [] for name in proxies}
    backend_cpu: dict[str, list[float]] = {name: [] for name in proxies}
    pids: dict[str, int] = {}
    backend_pids: list[int] = []
    with ExitStack() as stack:
        for instance, port in enumerate(backend_ports, start=1):
            backend_pids.append(
                stack.enter_context(
                    started(
                        python_module("benchmarks.lb_backend", str(port), str(instance)),
                        health_url=f"http://127.0.0.1:{port}/health",
                    )
                )
            )
        backends = [f"127.0.0.1:{port}" for port in backend_ports]
        pids["nginx"] = stack.enter_context(
            nginx(proxies["nginx"], backends, workers=options.nginx_workers)
        )
        for workers, (name, port) in zip(worker_counts, list(proxies.items())[1:], strict=True):
            env = {
                "MCSIM_LB_PORT": str(port),
                "MCSIM_LB_WORKERS": str(workers),
                "MCSIM_LB_BACKENDS": json.dumps([f"http://{b}" for b in backends]),
                "MCSIM_LB_LOG_LEVEL": "WARNING",
            }
            pids[name] = stack.enter_context(
                started(
                    python_module("load_balancer"),
                    health_url=f"http://127.0.0.1:{port}/health",
                    env=env,
                )
            )
        names = list(proxies)
        for round_number in range(options.rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                _say(f"round {round_number + 1}/{options.rounds}: {name} ({options.seconds} s)…")
                proxy_before = cpu_seconds(pids[name])
                backends_before = sum(cpu_seconds(pid) for pid in backend_pids)
                result = run_wrk(
                    f"http://127.0.0.1:{proxies[name]}{ROUTER}",
                    body=body,
                    headers=HEADERS,
                    connections=options.connections,
                    seconds=options.seconds,
                    threads=options.threads,
                )
                proxy_us = (cpu_seconds(pids[name]) - proxy_before) / result.requests * 1e6
                backends_us = (
                    (sum(cpu_seconds(pid) for pid in backend_pids) - backends_before)
                    / result.requests
                    * 1e6
                )
                _say(
                    f"  {result.requests_per_s:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                    f"p99 {result.p99_ms:.1f} ms, errors {result.errors}, CPU per request: "
                    f"proxy {proxy_us:.0f} µs, backends {backends_us:.0f} µs"
                )
                results[name].append(result)
                proxy_cpu[name].append(proxy_us)
                backend_cpu[name].append(backends_us)
        for name in names[1:]:
            status = httpx.get(f"http://127.0.0.1:{proxies[name]}/_lb/status", timeout=5).json()
            _say(
                f"{name}: /_lb/status counted {status['requests']:,} requests, "
                + ", ".join(
                    f"{b['url']} {b['requests']:,} ({b['errors']} errors)"
                    for b in status["backends"]
                )
            )

    base = results["nginx"]
    print(
        f"wrk -t{options.threads} -c{options.connections} -d{options.seconds}s, "
        f"{options.rounds} rounds, POST {len(body)}-byte PushEvent\n"
    )
    print(
        "| proxy | median req/s | median p50 | median p99 | throughput / nginx "
        "| p99 / nginx | errors | proxy CPU per request | backends CPU per request |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        runs = results[name]
        rate = statistics.median(r.requests_per_s for r in runs)
        p50 = statistics.median(r.p50_ms for r in runs)
        p99 = statistics.median(r.p99_ms for r in runs)
        ratio = statistics.median(
            r.requests_per_s / b.requests_per_s for r, b in zip(runs, base, strict=True)
        )
        p99_ratio = statistics.median(r.p99_ms / b.p99_ms for r, b in zip(runs, base, strict=True))
        errors = sum(r.errors for r in runs)
        own_cpu = statistics.median(proxy_cpu[name])
        their_cpu = statistics.median(backend_cpu[name])
        print(
            f"| {name} | {rate:,.0f} | {p50:.1f} ms | {p99:.1f} ms | {ratio:.2f}x | "
            f"{p99_ratio:.2f}x | {errors} | {own_cpu:.0f} µs | {their_cpu:.0f} µs |"
        )


if __name__ == "__main__":
    main()
