"""Template render benchmark: the demo templates rendered through the personalization engine.

Every round renders ``--messages`` messages: each message is one demo template (all its content
fields, as delivery and preview do) for its own event (a distinct ctx per message, so the
runtime's parsed-event cache only helps between the fields of one message). It runs once on one
thread and once on ``--threads`` threads sharing one engine (each thread has its own sandbox);
the first render of each thread (sandbox setup and template compilation) is timed apart, as
"first render". A round gives messages per second (wall clock) and the process CPU time per
message, which other processes on a shared machine disturb much less; the result is the median
of each over the rounds.

    .venv/bin/python -m benchmarks.render --rounds 5
    .venv/bin/python -m benchmarks.render --json     # one JSON line of medians on stdout

No server, database or network: only the engine, so the numbers move with the sandbox's cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import services.personalization as personalization
from control_instance.demo import DEMO_TEMPLATES
from control_instance.templates.content import compile_content
from services.personalization import CompiledFields, EventData, TemplateEngine

Message = tuple[CompiledFields, EventData]


def _say(text: str) -> None:
    print(text, flush=True, file=sys.stderr)


def _messages(count: int) -> list[Message]:
    """Return ``count`` messages cycling over the demo templates, each with its own event."""
    compiled = [
        (compile_content(spec.name, spec.channel, spec.content), spec.seeds[0].ctx)
        for spec in DEMO_TEMPLATES
    ]
    messages = []
    for index in range(count):
        fields, seed_ctx = compiled[index % len(compiled)]
        ctx = seed_ctx.replace("Ann", f"Ann{index}").replace("demo-4f2a", f"tok-{index:06d}")
        ctx = ctx.replace("A-1042", f"A-{index}")
        attributes = {"type": "BENCH", "email": f"user{index}@example.com"}
        messages.append((fields, EventData(attributes=attributes, ctx=ctx)))
    return messages


def _render_all(engine: TemplateEngine, messages: Sequence[Message]) -> int:
    characters = 0
    for fields, event in messages:
        for text in engine.render_fields(fields, event).values():
            characters += len(text)
    return characters


def _first_render(engine: TemplateEngine, message: Message) -> float:
    """Return the seconds of this thread's first render (sandbox setup and compilation)."""
    started = time.perf_counter()
    engine.render_fields(*message)
    return time.perf_counter() - started


class _Round(NamedTuple):
    rate: float  # messages per second, wall clock
    cpu_us: float  # process CPU time per message, microseconds
    first: float  # seconds of a thread's first render (median over threads)


def _round(messages: Sequence[Message], threads: int) -> _Round:
    """Render every message once on ``threads`` threads."""
    engine = TemplateEngine()
    if threads == 1:
        first = _first_render(engine, messages[0])
        started, cpu = time.perf_counter(), time.process_time()
        _render_all(engine, messages)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        return _Round(len(messages) / elapsed, cpu / len(messages) * 1e6, first)
    share = [messages[i::threads] for i in range(threads)]
    firsts: list[float] = []
    ready = threading.Barrier(threads + 1)

    def work(part: Sequence[Message]) -> None:
        firsts.append(_first_render(engine, part[0]))
        ready.wait()
        _render_all(engine, part)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(work, part) for part in share]
        ready.wait()
        started, cpu = time.perf_counter(), time.process_time()
        for future in futures:
            future.result()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return _Round(len(messages) / elapsed, cpu / len(messages) * 1e6, statistics.median(firsts))


def main() -> None:
    """Run the rounds and print the medians (markdown table, or one JSON line with --json)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=3000, help="messages per round")
    parser.add_argument("--threads", type=int, default=4, help="threads of the threaded run")
    parser.add_argument("--json", action="store_true", help="print one JSON line of medians")
    options = parser.parse_args()

    _say(f"engine from {personalization.__file__}")
    messages = _messages(options.messages)
    _say(f"{len(messages)} messages over {len(DEMO_TEMPLATES)} demo templates")
    runs: dict[str, list[_Round]] = {"1 thread": [], f"{options.threads} threads": []}
    for number in range(1, options.rounds + 1):
        for label, threads in (("1 thread", 1), (f"{options.threads} threads", options.threads)):
            result = _round(messages, threads)
            runs[label].append(result)
            _say(
                f"round {number}/{options.rounds} {label}: {result.rate:,.0f} messages/s, "
                f"{result.cpu_us:.1f} us CPU/message, first render {result.first * 1000:.2f} ms"
            )
    summary = {
        label: {
            "messages_per_s": statistics.median(r.rate for r in results),
            "cpu_us_per_message": statistics.median(r.cpu_us for r in results),
            "first_render_ms": statistics.median(r.first for r in results) * 1000,
        }
        for label, results in runs.items()
    }
    if options.json:
        print(json.dumps(summary))
        return
    print("| run | messages/s | CPU us/message | first render ms |")
    print("|---|---:|---:|---:|")
    for label, values in summary.items():
        print(
            f"| {label} | {values['messages_per_s']:,.0f} | {values['cpu_us_per_message']:.1f}"
            f" | {values['first_render_ms']:.2f} |"
        )


if __name__ == "__main__":
    main()
