"""Pieces of the supervisor that need no process: backoff, exit descriptions, log tails."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from services.cli.child import Child, describe_exit, readable_log_lines
from services.cli.plan import StackOptions, plan_stack
from services.cli.supervisor import SupervisorSettings, next_backoff
from tests.support.stack import pid_alive, wait_until


def test_backoff_doubles_from_one_second_to_thirty() -> None:
    settings = SupervisorSettings()
    delays = []
    previous = None
    for _ in range(8):
        previous = next_backoff(previous, healthy_for=2.0, settings=settings)
        delays.append(previous)
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_backoff_starts_over_after_a_healthy_while() -> None:
    settings = SupervisorSettings(backoff_reset_after=60)
    assert next_backoff(16, healthy_for=59.0, settings=settings) == 30
    assert next_backoff(16, healthy_for=60.0, settings=settings) == 1


@pytest.mark.parametrize(
    ("code", "text"),
    [(3, "exit code 3"), (0, "exit code 0"), (-9, "killed by SIGKILL"), (-15, "killed by SIGTERM")],
)
def test_exit_codes_are_described(code: int, text: str) -> None:
    assert describe_exit(code) == text


def test_json_log_lines_become_readable_with_their_traceback() -> None:
    lines = [
        json.dumps({"level": "info", "msg": "Waiting for application startup."}),
        json.dumps(
            {"level": "error", "msg": "Exception in 'lifespan'", "exc": "Traceback\n  boom"}
        ),
        json.dumps(
            {"level": "error", "msg": "Traceback (most recent call last):\n  x\nValueError"}
        ),
        "plain text from print()",
    ]
    assert readable_log_lines(lines) == [
        "INFO    Waiting for application startup.",
        "ERROR   Exception in 'lifespan'",
        "    Traceback",
        "      boom",
        "ERROR   Traceback (most recent call last):",
        "      x",
        "    ValueError",
        "plain text from print()",
    ]


def test_tail_shows_only_what_the_current_run_wrote(tmp_path: Path) -> None:
    service = plan_stack(StackOptions(data_dir=tmp_path)).get("midsourcing")
    log = service.log_file
    log.parent.mkdir(parents=True)
    log.write_text("an older run\n")
    script = "import sys\nfor i in range(30): print('line', i)\nsys.exit(4)\n"
    child = Child(replace(service, argv=(sys.executable, "-c", script)), base_env={})

    child.start()
    assert child.process is not None
    child.process.wait(10)

    assert child.poll() == 4
    assert not child.running
    assert child.tail(20) == [f"line {i}" for i in range(10, 30)]
    assert child.tail(3) == ["line 27", "line 28", "line 29"]
    assert "an older run" in log.read_text()
    # Signalling a child that has exited is harmless.
    child.signal_group(signal.SIGTERM)


SPAWN_GRANDCHILD = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("grandchild", grandchild.pid, flush=True)
time.sleep(float(sys.argv[1]))
"""


def start_with_grandchild(tmp_path: Path, leader_lives: float) -> tuple[Child, int]:
    service = plan_stack(StackOptions(data_dir=tmp_path)).get("load_balancer")
    argv = (sys.executable, "-c", SPAWN_GRANDCHILD, str(leader_lives))
    child = Child(replace(service, argv=argv), base_env={})
    child.start()
    deadline = time.monotonic() + 15
    while not any(line.startswith("grandchild") for line in child.tail()):
        assert time.monotonic() < deadline, child.tail()
        time.sleep(0.05)
    line = next(line for line in child.tail() if line.startswith("grandchild"))
    return child, int(line.split()[1])


def gone(pid: int, timeout: float = 10) -> bool:
    return wait_until(lambda: not pid_alive(pid), timeout)


def test_stopping_a_child_stops_what_it_started(tmp_path: Path) -> None:
    child, grandchild = start_with_grandchild(tmp_path, leader_lives=60)
    assert child.pid is not None
    assert os.getpgid(grandchild) == child.pid
    assert os.getsid(child.pid) == child.pid  # its own session: no terminal Ctrl-C reaches it

    child.signal_group(signal.SIGTERM)

    assert gone(grandchild)
    assert wait_until(lambda: child.poll() is not None, 10)
    assert child.exit_code == -signal.SIGTERM


def test_a_child_that_exits_takes_its_leftovers_with_it(tmp_path: Path) -> None:
    child, grandchild = start_with_grandchild(tmp_path, leader_lives=0)
    assert wait_until(lambda: child.poll() is not None, 10)
    assert child.exit_code == 0
    assert gone(grandchild)
