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
    assert "'nope' is not one of 'intake', 'delivery', 'lb'" in words
