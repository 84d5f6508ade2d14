"""A pre-forking master: one small process that forks a service's processes and keeps them up.

Used by the load balancer (HTTP workers and a health checker) and the execution instance (HTTP
workers and processing processes). The master forks before it starts any event loop or thread,
so every child inherits what the master prepared (listening sockets, shared memory, pipes) and
shares its imported code copy-on-write.

* HTTP workers serve listening sockets of their own that share one port through
  ``SO_REUSEPORT``, so the kernel spreads connections over them. The master keeps the sockets
  open: connections that arrive while a worker restarts wait in its backlog, not refused.
* A child that dies is started again after one second; a child dies with its master
  (``PR_SET_PDEATHSIG``), so a killed master never leaves a worker holding the port.
* SIGTERM, SIGINT or SIGHUP on the master stops the children with SIGTERM (they finish what is
  in flight) and, after ``shutdown_timeout`` and five seconds more, with SIGKILL.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

__all__ = [
    "Child",
    "Prefork",
    "die_with_parent",
    "next_restart_delay",
    "reuseport_sockets",
    "usable_cores",
]

log = logging.getLogger("mcsim.master")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
RESTART_DELAY = 1.0
#: A child that dies again within this many seconds of its start waits twice as long before
#: its next start, up to RESTART_DELAY_MAX: a cause that persists is no tight restart loop.
STABLE_AFTER, RESTART_DELAY_MAX = 10.0, 10.0


def usable_cores() -> int:
    """Return the cores this process may run on (``taskset`` and cgroup cpusets included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def next_restart_delay(previous: float | None, lived: float) -> float:
    """Return how long to wait before starting again a child that lived ``lived`` seconds."""
    if previous is None or lived >= STABLE_AFTER:
        return RESTART_DELAY
    return min(previous * 2, RESTART_DELAY_MAX)


@dataclass(frozen=True)
class Child:
    """One process of the service: its role (a name such as ``web-0``) and what it runs."""

    role: str
    run: Callable[[], None]
    #: Runs in the master just before each fork of this child (e.g. to reset its counters).
    before_start: Callable[[], None] | None = None


def reuseport_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """Return ``count`` listening sockets on ``host:port`` that share it (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(2048)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def die_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


class Prefork:
    """Fork ``children``, restart those that die, stop them all on a stop signal."""

    def __init__(
        self,
        name: str,
        children: Sequence[Child],
        *,
        shutdown_timeout: float,
        in_child: Callable[[str], None] | None = None,
        on_started: Callable[[str, int], None] | None = None,
    ) -> None:
        self.name = name
        self.children = {child.role: child for child in children}
        self.shutdown_timeout = shutdown_timeout
        #: Runs first in every child, with its role (its logging, for instance).
        self.in_child = in_child
        #: Runs in the master after each fork, with the child's role and process id.
        self.on_started = on_started
        self.running: dict[int, str] = {}
        self.started_at: dict[str, float] = {}
        self.stopping = False

    def run(self) -> int:
        """Run until a stop signal; return the exit code."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        # What the master built lives on in every child: out of the collector's sight, its
        # objects' pages stay shared instead of being copied when a child's collector walks them.
        gc.collect()
        gc.freeze()
        for role in self.children:
            self._start(role)
        log.info("%s master started", self.name, extra={"processes": list(self.children)})
        restarts: dict[str, float] = {}
        delays: dict[str, float] = {}
        while not self.stopping:
            time.sleep(0.2)
            for role in self._reap():
                if not self.stopping:
                    lived = time.monotonic() - self.started_at.get(role, 0.0)
                    delays[role] = next_restart_delay(delays.get(role), lived)
                    log.warning(
                        "%s of the %s died; starting it again in %g s",
                        role,
                        self.name,
                        delays[role],
                    )
                    restarts[role] = time.monotonic() + delays[role]
            for role, when in list(restarts.items()):
                if time.monotonic() >= when and not self.stopping:
                    del restarts[role]
                    self._start(role)
        return self._stop()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _reap(self) -> list[str]:
        dead = []
        while self.running:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            role = self.running.pop(pid, None)
            if role is not None:
                dead.append(role)
        return dead

    def _start(self, role: str) -> None:
        child = self.children[role]
        if child.before_start is not None:
            child.before_start()
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                for signum in STOP_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                die_with_parent()
                if self.in_child is not None:
                    self.in_child(role)
                child.run()
            except BaseException:
                logging.getLogger("mcsim").exception("%s of the %s failed", role, self.name)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        self.running[pid] = role
        self.started_at[role] = time.monotonic()
        if self.on_started is not None:
            self.on_started(role, pid)

    def _stop(self) -> int:
        log.info("stopping the %s's %d processes", self.name, len(self.running))
        for pid in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_timeout + 5
        while self.running and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return 0
