"""``mcsim bench``: runs a benchmark module from the checkout, passing its options on."""

from __future__ import annotations

import subprocess
import sys


def _mcsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_benchmarks_own_options_reach_it() -> None:
    done = _mcsim("bench", "delivery", "--", "--help")
    assert done.returncode == 0, done.stderr
    assert "--latency-seconds" in done.stdout  # the delivery benchmark's argparse help


def test_an_unknown_benchmark_is_refused_with_the_known_ones() -> None:
    done = _mcsim("bench", "nope")
    assert done.returncode == 2
    words = " ".join(done.stderr.replace("│", " ").split())  # the error box wraps lines
    assert "'nope' is not one of 'intake', 'delivery', 'lb', 'render'" in words


def test_the_render_benchmark_is_listed_and_runs() -> None:
    done = _mcsim("bench", "render", "--", "--rounds", "1", "--messages", "50", "--threads", "2")
    assert done.returncode == 0, done.stderr
    assert "| 1 thread |" in done.stdout
    assert "round 1/1 2 threads" in done.stderr
