"""One supervised child process: start it in its own session, signal its group, read its log.

Children never outlive the supervisor: each one starts in a new session (so a terminal's
Ctrl-C reaches only the supervisor, which orders the shutdown), asks the kernel for SIGTERM
when its parent dies (``PR_SET_PDEATHSIG`` on Linux, even if the supervisor is SIGKILLed),
and is stopped together with its own children by signalling its whole process group.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

from services.cli.plan import ServicePlan

__all__ = ["Child", "describe_exit", "readable_log_lines"]

_PR_SET_PDEATHSIG = 1
_TAIL_BYTES = 256 * 1024


class Child:
    """A service process of the stack and its restart bookkeeping."""

    def __init__(self, plan: ServicePlan, *, base_env: Mapping[str, str]) -> None:
        self.plan = plan
        self._env = {**base_env, **plan.env, "PYTHONUNBUFFERED": "1"}
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.healthy_since: float | None = None
        self.restarts = 0
        self.restart_at: float | None = None
        self.last_delay: float | None = None
        self.exit_code: int | None = None
        self._log_offset = 0

    @property
    def name(self) -> str:
        """Return the service's name (``execution-1``)."""
        return self.plan.name

    @property
    def pid(self) -> int | None:
        """Return the pid of the process started last (running or not), or None."""
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        """Return whether the process was started and has not been seen exiting."""
        return self.process is not None and self.exit_code is None

    def start(self) -> int:
        """Start the process with its log file as stdout and stderr; return its pid."""
        self.plan.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.plan.log_file, "ab") as log:
            self._log_offset = log.tell()
            self.process = subprocess.Popen(  # noqa: S603 - argv comes from the stack plan
                list(self.plan.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),
            )
        self.exit_code = None
        self.healthy_since = None
        self.started_at = time.monotonic()
        return self.process.pid

    def poll(self) -> int | None:
        """Return the exit code once the process has exited (reaping it), else None."""
        if self.process is None:
            return None
        if self.exit_code is None:
            self.exit_code = self.process.poll()
            if self.exit_code is not None:
                # Whatever the service itself started dies with it. Done once, right after
                # the reap: later the group id may belong to someone else.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        return self.exit_code

    def signal_group(self, signum: signal.Signals) -> None:
        """Send ``signum`` to the running process and everything it started."""
        if self.process is None or self.exit_code is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def tail(self, lines: int = 20) -> list[str]:
        """Return the last ``lines`` readable lines the current run wrote to its log."""
        try:
            with open(self.plan.log_file, "rb") as log:
                end = log.seek(0, os.SEEK_END)
                log.seek(max(self._log_offset, end - _TAIL_BYTES))
                data = log.read()
        except FileNotFoundError:
            return []
        text = data.decode("utf-8", errors="replace")
        return readable_log_lines(text.splitlines())[-lines:]


def describe_exit(code: int) -> str:
    """Return ``exit code 3`` or ``killed by SIGKILL`` for a Popen return code."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def readable_log_lines(lines: list[str]) -> list[str]:
    """Turn JSON log lines into ``level message`` lines, tracebacks expanded."""
    out: list[str] = []
    for line in lines:
        entry = _json_object(line)
        if entry is None or "msg" not in entry:
            out.append(line)
            continue
        first, *rest = str(entry["msg"]).splitlines() or [""]
        out.append(f"{str(entry.get('level', '')).upper():<7} {first}")
        out.extend("    " + part for part in rest)
        exc = entry.get("exc")
        if isinstance(exc, str):
            out.extend("    " + part for part in exc.splitlines())
    return out


def _json_object(line: str) -> dict[str, object] | None:
    if not line.startswith("{"):
        return None
    with contextlib.suppress(ValueError):
        value = json.loads(line)
        if isinstance(value, dict):
            return value
    return None


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """Return a pre-exec hook that makes the child receive SIGTERM when its parent dies."""
    prctl: Callable[..., int] | None = None
    if sys.platform.startswith("linux"):
        # Load libc before fork: only the call itself runs in the child.
        prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent_pid:
            # The parent died between fork and prctl: nobody would ever stop this child.
            os.kill(os.getpid(), signal.SIGTERM)

    return hook
