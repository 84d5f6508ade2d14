"""Where a stack under test is: one started by ``mcsim up`` for the test run, or a running one.

:class:`LocalStack` runs ``mcsim up`` in a data directory of its own, on free loopback ports,
waits until ``stack.json`` says every service is ready, and stops it with SIGINT (as Ctrl-C
does; SIGKILL if it hangs). On Linux the supervisor also gets SIGTERM if the test run dies, so
no stack outlives it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from services.cli.state import StackState, read_state

__all__ = ["LocalStack", "StackUrls", "attach", "urls_from_data_dir"]

HOST = "127.0.0.1"
#: The ports ``mcsim up`` uses by default (README, Configuration).
DEFAULT_MID_PORT, DEFAULT_CONTROL_PORT = 8090, 8070
_LOW_PORT, _HIGH_PORT = 20000, 32000


@dataclass(frozen=True)
class StackUrls:
    """The base URLs of a stack's services."""

    lb: str
    mid: str
    control: str
    executions: tuple[str, ...] = ()


def attach(lb: str, *, mid: str | None = None, control: str | None = None) -> StackUrls:
    """Return the URLs of a running stack given its load balancer's URL.

    The mid-sourcing server and the control instance default to the ports ``mcsim up`` gives
    them by default, on the load balancer's host.
    """
    parts = urlsplit(lb)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{lb!r} is not the URL of a load balancer (http://host:port)")
    host = f"{parts.scheme}://{parts.hostname}"
    return StackUrls(
        lb=lb.rstrip("/"),
        mid=(mid or f"{host}:{DEFAULT_MID_PORT}").rstrip("/"),
        control=(control or f"{host}:{DEFAULT_CONTROL_PORT}").rstrip("/"),
    )


def urls_from_data_dir(data_dir: Path) -> StackUrls:
    """Return the URLs of the stack ``mcsim up --data-dir DATA_DIR`` runs (its stack.json)."""
    state = read_state(data_dir / "stack.json")
    if state is None:
        raise ValueError(f"no running stack in {data_dir} (no readable stack.json)")
    return _urls(state)


def _urls(state: StackState) -> StackUrls:
    by_kind: dict[str, list[str]] = {}
    for service in state.services:
        by_kind.setdefault(service.service, []).append(service.url.rstrip("/"))
    return StackUrls(
        lb=by_kind["load_balancer"][0],
        mid=by_kind["midsourcing"][0],
        control=by_kind["control"][0],
        executions=tuple(by_kind.get("execution", ())),
    )


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def _startup_env(timeout: float) -> dict[str, str]:
    """The environment of ``mcsim up``: each service may take as long to start as the stack.

    The supervisor's own default (30 s a stage) is too short on a busy CI machine, where a
    service's imports alone have taken 25 s; ``MCSIM_STARTUP_TIMEOUT`` set by the user wins.
    """
    return {"MCSIM_STARTUP_TIMEOUT": f"{timeout:g}", **os.environ}


def _free_ports(instances: int) -> list[int]:
    """Return free ports: balancer, control, mid-sourcing, then ``instances`` in a row."""
    for _ in range(200):
        base = random.randrange(_LOW_PORT, _HIGH_PORT - instances - 3)  # noqa: S311 - not secret
        ports = list(range(base, base + 3 + instances))
        if all(_bindable(port) for port in ports):
            return ports
    raise RuntimeError("no free loopback ports found for an mcsim stack")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, before exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


class LocalStack:
    """An ``mcsim up`` process started for a test run."""

    def __init__(self, process: subprocess.Popen[bytes], data_dir: Path, output: Path) -> None:
        self.process = process
        self.data_dir = data_dir
        self.output = output
        self.urls: StackUrls | None = None

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        instances: int = 1,
        args: Sequence[str] = (),
        timeout: float = 90.0,
        attempts: int = 3,
    ) -> LocalStack:
        """Start ``mcsim up --demo`` with ``args`` on free ports; return once it is ready."""
        for attempt in range(1, attempts + 1):
            lb, control, mid, exec_base = _free_ports(instances)[:4]
            data_dir.mkdir(parents=True, exist_ok=True)
            output = data_dir / "mcsim-up.log"
            command = [
                sys.executable,
                "-m",
                "services.cli.main",
                "up",
                "--data-dir",
                str(data_dir),
                "--host",
                HOST,
                "--lb-port",
                str(lb),
                "--control-port",
                str(control),
                "--mid-port",
                str(mid),
                "--exec-base-port",
                str(exec_base),
                "--instances",
                str(instances),
                *args,
            ]
            with open(output, "ab") as sink:
                process = subprocess.Popen(  # noqa: S603 - our own command
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent,
                    env={**_startup_env(timeout), "NO_COLOR": "1"},
                )
            stack = cls(process, data_dir, output)
            try:
                stack._wait_ready(timeout)
            except RuntimeError:
                stack.stop()
                if attempt == attempts or "already in use" not in stack.log():
                    raise
                continue  # another program took a port meanwhile: other ports
            return stack
        raise AssertionError("unreachable")

    def log(self) -> str:
        """Return what ``mcsim up`` printed."""
        return self.output.read_text(encoding="utf-8", errors="replace")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = read_state(self.data_dir / "stack.json")
            mine = state is not None and state.supervisor_pid == self.process.pid
            if mine and state is not None and state.state == "ready":
                self.urls = _urls(state)
                return
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mcsim up exited with {self.process.returncode} before it was ready:\n"
                    + self.log()[-4000:]
                )
            time.sleep(0.1)
        raise RuntimeError(f"mcsim up was not ready within {timeout:g} s:\n" + self.log()[-4000:])

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the stack as Ctrl-C does (SIGKILL after ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                self.process.wait(10)
