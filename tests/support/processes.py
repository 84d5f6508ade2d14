"""Kill, pause, resume and restart the processes of a running stack, and see them come back.

Works with any :class:`~tests.support.stack.StackRunner` (``mcsim up`` or the fault stack)::

    procs = StackProcesses(runner)
    procs.kill("execution-1")                     # SIGKILL its whole process group
    procs.kill_process("execution-2", "processing")   # one process of an instance
    procs.pause("midsourcing"); procs.resume("midsourcing")   # SIGSTOP / SIGCONT the group
    procs.restart("midsourcing")                  # SIGTERM; the supervisor starts it again
    procs.wait_healthy("midsourcing")

The supervisor restarts a service that exits (with backoff); an execution instance's master
restarts its own web and processing processes. Every fault is noted in ``procs.injected``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from tests.support.stack import StackRunner, pid_alive, wait_until

__all__ = ["StackProcesses"]


@dataclass
class StackProcesses:
    """The processes of one running stack."""

    runner: StackRunner
    #: (wall-clock time, service name, what) of every process fault injected.
    injected: list[tuple[float, str, str]] = field(default_factory=list)

    # -- where things are ----------------------------------------------------------------

    @property
    def lb_url(self) -> str:
        """Return the load balancer's URL."""
        return self.runner.lb_url

    @property
    def mid_url(self) -> str:
        """Return the mid-sourcing server's URL."""
        return self.runner.mid_url

    def exec_url(self, instance_id: int) -> str:
        """Return execution instance ``instance_id``'s own URL (not through a proxy)."""
        return self.runner.exec_url(instance_id)

    def service_url(self, name: str) -> str:
        """Return the URL of the service called ``name`` (``execution-1``, ``control``, ...)."""
        state = self.runner.state()
        assert state is not None, "the stack is not running"
        return next(s.url for s in state.services if s.name == name)

    def pid(self, name: str) -> int:
        """Return the current pid of service ``name`` (its master for an execution instance)."""
        pid = self.runner.pids().get(name)
        assert pid is not None, f"{name} has no running process"
        return pid

    def processes(self, name: str) -> list[tuple[str, int]]:
        """Return (role, pid) of the processes a service's master forked.

        An execution instance lists them on ``/health`` (``web-0``, ``processing-0``); the load
        balancer names its workers on ``/_lb/status`` (``worker-0``), and its other child is
        the health checker (``health``). Empty while the service does not answer.
        """
        url = self.service_url(name)
        try:
            if name != "load_balancer":
                answer = httpx.get(url + "/health", timeout=5, trust_env=False)
                return [(p["role"], int(p["pid"])) for p in answer.json().get("processes") or []]
            status = httpx.get(url + "/_lb/status", timeout=5, trust_env=False).json()
        except (httpx.HTTPError, ValueError):
            return []
        workers = [(f"worker-{w['worker']}", int(w["pid"])) for w in status.get("workers", [])]
        known = {pid for _, pid in workers}
        others = [("health", pid) for pid in self.children_of(name) if pid not in known]
        return workers + others

    def children_of(self, name: str) -> list[int]:
        """Return the live processes whose parent is service ``name``'s main process."""
        parent = self.pid(name)
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == parent and fields[0] not in {"Z", "X"}:
                found.append(int(entry.name))
        return found

    # -- process faults ------------------------------------------------------------------

    def _note(self, name: str, what: str) -> None:
        self.injected.append((time.time(), name, what))

    def kill(self, name: str) -> int:
        """SIGKILL service ``name`` and everything it started; return the pid killed."""
        pid = self.pid(name)
        self._note(name, "SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        return pid

    def kill_process(self, name: str, role_prefix: str) -> int:
        """SIGKILL one process of a service (see :meth:`processes`) whose role starts with
        ``role_prefix``; the service's master starts it again."""
        role, pid = next((r, p) for r, p in self.processes(name) if r.startswith(role_prefix))
        # The master restarts it; the supervisor is not involved.
        self._note(name, f"SIGKILL {role}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return pid

    def pause(self, name: str) -> None:
        """SIGSTOP service ``name``'s process group (it stops answering, sockets stay open)."""
        self._note(name, "SIGSTOP")
        os.killpg(self.pid(name), signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """SIGCONT service ``name``'s process group."""
        self._note(name, "SIGCONT")
        os.killpg(self.pid(name), signal.SIGCONT)

    def restart(self, name: str) -> None:
        """Stop service ``name`` with SIGTERM (the supervisor starts it again)."""
        pid = self.pid(name)
        self._note(name, "SIGTERM (restart)")
        os.killpg(pid, signal.SIGTERM)
        wait_until(lambda: not pid_alive(pid), timeout=15)

    def healthy(self, name: str) -> bool:
        """Return whether service ``name`` runs a new process that answers ``/health``."""
        state = self.runner.state()
        if state is None:
            return False
        service = next(s for s in state.services if s.name == name)
        if service.pid is None or not pid_alive(service.pid):
            return False
        try:
            answer = httpx.get(service.url + "/health", timeout=2, trust_env=False)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def wait_healthy(self, name: str, timeout: float = 60.0) -> float:
        """Wait until service ``name`` answers its health check; return the seconds it took."""
        started = time.monotonic()
        if not wait_until(lambda: self.healthy(name), timeout=timeout, interval=0.2):
            raise AssertionError(f"{name} not healthy within {timeout} s:\n{self.runner.output()}")
        return time.monotonic() - started

    def wait_all_healthy(self, timeout: float = 90.0) -> None:
        """Wait until every service answers its health check."""
        state = self.runner.state()
        assert state is not None
        for service in state.services:
            self.wait_healthy(service.name, timeout)

    def restarts(self) -> list[str]:
        """Return the children the supervisor saw exit unexpectedly, in order."""
        return [str(entry["child"]) for entry in self.runner.supervisor_events("child_exited")]

    def start_times(self, name: str) -> list[float]:
        """Return the wall-clock times at which the supervisor started service ``name``."""
        return [
            datetime.fromisoformat(entry["ts"]).timestamp()
            for entry in self.runner.supervisor_events("child_started")
            if entry.get("child") == name
        ]

    def kill_times(self, name: str) -> list[float]:
        """Return the wall-clock times at which service ``name`` was SIGKILLed (whole)."""
        return [when for when, who, what in self.injected if who == name and what == "SIGKILL"]
