"""Serve the balancer: one process, or a master with worker processes on one port.

With ``workers`` = 1 the balancer is one uvicorn process; its lifespan checks the backends.

With more, ``python -m load_balancer`` is a small master that forks, before it starts any event
loop or thread:

* N workers. Each serves its own listening socket; the sockets share the port through
  ``SO_REUSEPORT``, so the kernel spreads connections over them. The master keeps the sockets
  open, so connections that arrive while a worker restarts wait in its backlog instead of being
  refused;
* one health checker, the only process that checks the backends.

All of them map the same shared memory (:mod:`load_balancer.shared`): the backend table with its
health states and every worker's counters, which is why ``/_lb/status``, ``/metrics`` and the
admin API give the same answers whichever worker serves them. A child that dies is started
again (after one second). SIGTERM or SIGINT on the master stops the children, which finish the
requests in flight first (``shutdown_timeout``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import gc
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

from load_balancer.app import create_app, front_door, health_checker, seed_backends
from load_balancer.settings import BalancerSettings
from load_balancer.shared import SharedState
from services.http import create_http_client
from services.logging_setup import configure_logging
from services.serving import LeanHttpProtocol

__all__ = ["serve", "uvicorn_config"]

log = logging.getLogger("mcsim.lb.master")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_RESTART_DELAY = 1.0


def uvicorn_config(app: FastAPI, settings: BalancerSettings) -> uvicorn.Config:
    """Return the uvicorn configuration of one balancer process."""
    return uvicorn.Config(
        front_door(app),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        # The balancer writes X-Forwarded-For itself from the real peer: never trust the caller's.
        proxy_headers=False,
        # Date and Server come from the backend's answer, not twice.
        server_header=False,
        date_header=False,
        timeout_graceful_shutdown=int(settings.shutdown_timeout),
        backlog=2048,
        http=LeanHttpProtocol,
        ws="none",
    )


def _tune_gc() -> None:
    # A proxied request allocates many short-lived objects that reference counting frees;
    # collecting the young generation every 700 allocations only costs time. What exists at
    # start-up never dies: keep it out of every collection.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _logging(settings: BalancerSettings, instance: str | None) -> None:
    configure_logging(
        service=settings.service_name,
        level=settings.log_level,
        fmt=settings.log_format.value,
        instance=instance,
    )
    # httpx logs every request at INFO: the health checks would fill the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def serve(settings: BalancerSettings) -> int:
    """Run the balancer until it is told to stop; return the exit code."""
    _logging(settings, None)
    if settings.workers == 1:
        server = uvicorn.Server(uvicorn_config(create_app(settings), settings))
        _tune_gc()
        server.run()
        return 0
    return _Master(settings).run()


def _reuseport_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _die_with_parent() -> None:
    # A worker must not outlive its master (e.g. after SIGKILL): it would keep the port.
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


class _Master:
    """Fork the workers and the health checker, restart them, stop them."""

    def __init__(self, settings: BalancerSettings) -> None:
        self.settings = settings
        self.shared = SharedState.create(settings.workers, between_processes=True)
        seed_backends(self.shared, settings)
        self.sockets: list[socket.socket] = []
        self.children: dict[int, str] = {}
        self.stopping = False

    def run(self) -> int:
        try:
            self.sockets = [
                _reuseport_socket(self.settings.host, self.settings.port)
                for _ in range(self.settings.workers)
            ]
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", self.settings.host, self.settings.port, exc)
            return 1
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        self._start("health")
        for worker in range(self.settings.workers):
            self._start(f"worker-{worker}")
        log.info(
            "load balancer master started",
            extra={"workers": self.settings.workers, "port": self.settings.port},
        )
        restarts: dict[str, float] = {}
        while not self.stopping:
            time.sleep(0.2)
            for role in self._reap():
                if not self.stopping:
                    log.warning("%s of the load balancer died; starting it again", role)
                    restarts[role] = time.monotonic() + _RESTART_DELAY
            for role, when in list(restarts.items()):
                if time.monotonic() >= when and not self.stopping:
                    del restarts[role]
                    self._start(role)
        return self._stop()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _reap(self) -> list[str]:
        dead = []
        while self.children:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            role = self.children.pop(pid, None)
            if role is not None:
                dead.append(role)
        return dead

    def _start(self, role: str) -> None:
        target: Callable[[], None]
        if role == "health":
            target = self._run_health
        else:
            worker = int(role.removeprefix("worker-"))
            self.shared.reset_worker(worker, 0)
            target = functools.partial(self._run_worker, worker)
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                for signum in _STOP_SIGNALS:
                    signal.signal(signum, signal.SIG_DFL)
                _die_with_parent()
                _logging(self.settings, role)
                target()
            except BaseException:
                logging.getLogger("mcsim.lb").exception("%s failed", role)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = role

    def _run_worker(self, worker: int) -> None:
        app = create_app(self.settings, shared=self.shared, worker=worker, check_health=False)
        server = uvicorn.Server(uvicorn_config(app, self.settings))
        _tune_gc()
        server.run(sockets=[self.sockets[worker]])

    def _run_health(self) -> None:
        async def check_forever() -> None:
            async with create_http_client(
                timeout=self.settings.health_timeout, connect_timeout=self.settings.health_timeout
            ) as client:
                await health_checker(self.shared, self.settings, client).run()

        asyncio.run(check_forever())

    def _stop(self) -> int:
        log.info("stopping the load balancer's %d processes", len(self.children))
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout + 5
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for sock in self.sockets:
            sock.close()
        return 0
