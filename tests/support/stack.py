"""Run ``mcsim up`` as a real process on free loopback ports, for system tests.

    with StackRunner.start(tmp_path / "data", "--no-demo") as stack:
        stack.wait_ready()
        httpx.get(stack.lb_url + "/nl/jsp/ping.jsp")
        stack.pids()            # {"load_balancer": 1234, "execution-1": ..., ...}
    # leaving the block stops the stack (SIGINT) and kills anything left over

or as a fixture: ``stack = running_stack(tmp_path)`` inside a ``with``. The supervisor writes
``<data-dir>/stack.json`` once every service answers; the runner reads it for URLs and pids,
and ``<data-dir>/logs/supervisor.log`` for every pid it ever started.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from services.cli.state import StackState, read_state

__all__ = [
    "StackPorts",
    "StackRunner",
    "child_alive",
    "free_ports",
    "pid_alive",
    "running_stack",
    "session_members",
    "wait_until",
]

HOST = "127.0.0.1"
_LOW_PORT, _HIGH_PORT = 20000, 32700


@dataclass(frozen=True)
class StackPorts:
    """The ports one test stack uses."""

    lb: int
    control: int
    mid: int
    exec_base: int
    instances: int

    def args(self) -> list[str]:
        """Return the ``mcsim up`` options that select these ports."""
        return [
            "--host",
            HOST,
            "--lb-port",
            str(self.lb),
            "--control-port",
            str(self.control),
            "--mid-port",
            str(self.mid),
            "--exec-base-port",
            str(self.exec_base),
            "--instances",
            str(self.instances),
        ]

    def all(self) -> list[int]:
        """Return every port of the stack."""
        execs = [self.exec_base + k for k in range(self.instances)]
        return [self.lb, self.control, self.mid, *execs]


def free_ports(instances: int = 2) -> StackPorts:
    """Return free loopback ports for a stack; the execution instances' ports are consecutive.

    The ports are drawn below Linux's ephemeral range (32768+), so that no outbound connection
    can take one of them between this check and the moment the services bind them.
    """
    rng = random.SystemRandom()
    for _attempt in range(100):
        base = rng.randrange(_LOW_PORT, _HIGH_PORT - instances - 3)
        wanted = list(range(base, base + instances + 3))
        if all(_bindable(port) for port in wanted):
            lb, control, mid, *execs = wanted
            return StackPorts(lb, control, mid, execs[0], instances)
    raise RuntimeError(f"no block of {instances + 3} free ports found")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def pid_alive(pid: int) -> bool:
    """Return whether ``pid`` runs (a zombie waiting to be reaped counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state letter follows the command name, which is in parentheses.
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


_SERVICE_MODULES = (b"load_balancer", b"execution_instance", b"control_instance", b"midsourcing")


def child_alive(pid: int) -> bool:
    """Return whether ``pid`` is a running mcsim service (not a reused pid, not a zombie)."""
    if not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return any(module in cmdline for module in _SERVICE_MODULES)


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # After the command name (in parentheses): state, ppid, pgrp, session, ...
    return stat.rsplit(")", 1)[1].split()


def session_members(sessions: set[int]) -> dict[int, int]:
    """Return every live process (pid -> session) whose session is one of ``sessions``."""
    found: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[0] in {"Z", "X"}:
            continue
        if int(fields[3]) in sessions:
            found[int(entry.name)] = int(fields[3])
    return found


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _mcsim_argv() -> list[str]:
    script = shutil.which("mcsim", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "services.cli.main"]


def _die_with_test_run() -> None:
    # If pytest itself is killed, the supervisor gets SIGTERM and stops the stack cleanly.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)


class StackRunner:
    """One ``mcsim up`` process and what it wrote about itself."""

    def __init__(
        self, process: subprocess.Popen[bytes], data_dir: Path, ports: StackPorts, output: Path
    ) -> None:
        self.process = process
        self.data_dir = data_dir
        self.ports = ports
        self.output_file = output

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *args: str,
        ports: StackPorts | None = None,
        instances: int = 2,
        env: Mapping[str, str] | None = None,
        command: str = "up",
    ) -> StackRunner:
        """Start ``mcsim up`` (or another ``command``) on free ports with ``data_dir``."""
        ports = ports or free_ports(instances)
        data_dir.mkdir(parents=True, exist_ok=True)
        output = data_dir.parent / f"{data_dir.name}.mcsim-output.txt"
        argv = [*_mcsim_argv(), command, "--data-dir", str(data_dir), *ports.args(), *args]
        with open(output, "ab") as sink:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                # A wide console whatever the test runner's terminal: what the tests read in the
                # output does not depend on where rich wraps it. A long start-up timeout: with
                # the suite's parallel stacks on 2 cores, a service's imports alone took 25 s.
                env={
                    "MCSIM_STARTUP_TIMEOUT": "90",
                    **os.environ,
                    "COLUMNS": "200",
                    **(env or {}),
                },
                preexec_fn=_die_with_test_run,
            )
        return cls(process, data_dir, ports, output)

    # -- reading what the stack says ------------------------------------------------------

    @property
    def state_file(self) -> Path:
        """Return ``<data-dir>/stack.json``."""
        return self.data_dir / "stack.json"

    def state(self) -> StackState | None:
        """Return this supervisor's ``stack.json``, or None when it has none (yet)."""
        state = read_state(self.state_file)
        if state is None or state.supervisor_pid != self.process.pid:
            return None
        return state

    def output(self) -> str:
        """Return everything the supervisor printed so far."""
        return self.output_file.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, timeout: float = 200.0) -> StackState:
        """Wait until the supervisor reports the stack ready; fail with its output otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.state()
            if state is not None and state.state == "ready":
                return state
            if self.process.poll() is not None:
                raise AssertionError(
                    f"mcsim exited with {self.process.returncode} before it was ready:\n"
                    + self.output()
                )
            time.sleep(0.1)
        raise AssertionError(f"mcsim was not ready within {timeout} s:\n" + self.output())

    @property
    def lb_url(self) -> str:
        """Return the load balancer's URL."""
        return f"http://{HOST}:{self.ports.lb}"

    @property
    def control_url(self) -> str:
        """Return the control instance's URL."""
        return f"http://{HOST}:{self.ports.control}"

    @property
    def mid_url(self) -> str:
        """Return the mid-sourcing server's URL."""
        return f"http://{HOST}:{self.ports.mid}"

    def exec_url(self, instance_id: int) -> str:
        """Return the URL of execution instance ``instance_id`` (1-based)."""
        return f"http://{HOST}:{self.ports.exec_base + instance_id - 1}"

    def pids(self) -> dict[str, int]:
        """Return the current pid of every running child, by service name."""
        state = self.state()
        if state is None:
            return {}
        return {s.name: s.pid for s in state.services if s.pid is not None}

    def supervisor_events(self, event: str) -> list[dict[str, Any]]:
        """Return the supervisor's log entries of ``event`` (``child_started``...), in order."""
        log = self.data_dir / "logs" / "supervisor.log"
        found: list[dict[str, Any]] = []
        if not log.exists():
            return found
        for line in log.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if entry.get("event") == event:
                    found.append(entry)
        return found

    def started_pids(self) -> dict[int, str]:
        """Return every child pid the supervisor ever started (restarts too), with its name."""
        return {
            int(entry["pid"]): str(entry["child"])
            for entry in self.supervisor_events("child_started")
        }

    def live_children(self) -> dict[int, str]:
        """Return the started children that still run."""
        return {pid: name for pid, name in self.started_pids().items() if child_alive(pid)}

    def leftovers(self) -> dict[int, str]:
        """Return every live process started by the stack: children and what they started.

        Each child leads its own session, so whatever it started shares that session id.
        A session whose leader pid now belongs to someone else is not ours.
        """
        started = self.started_pids()
        ours = {sid for sid in started if child_alive(sid) or not pid_alive(sid)}
        return {pid: started[sid] for pid, sid in session_members(ours).items()}

    # -- stopping --------------------------------------------------------------------------

    def send(self, signum: signal.Signals) -> None:
        """Send ``signum`` to the supervisor."""
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the supervisor to exit and return its exit code."""
        return self.process.wait(timeout)

    def stop(self, timeout: float = 30.0) -> int:
        """Stop the stack with SIGINT (as Ctrl-C would) and return the supervisor's exit code."""
        self.send(signal.SIGINT)
        return self.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the supervisor (its children must then stop on their own)."""
        self.send(signal.SIGKILL)
        self.process.wait(10)

    def cleanup(self) -> None:
        """Make sure nothing of this stack runs any more, whatever the test did."""
        if self.process.poll() is None:
            self.send(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        for pid in self.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> StackRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()


@contextlib.contextmanager
def running_stack(
    data_dir: Path, *args: str, instances: int = 2, env: Mapping[str, str] | None = None
) -> Iterator[StackRunner]:
    """Start ``mcsim up`` with ``args``, wait until it is ready, yield it, then stop it."""
    with StackRunner.start(data_dir, *args, instances=instances, env=env) as stack:
        stack.wait_ready()
        yield stack
