"""Serve the balancer: one process, or a master with worker processes on one port.

With ``workers`` = 1 the balancer is one uvicorn process; its lifespan checks the backends.

With more, ``python -m load_balancer`` is a small master (:mod:`services.prefork`) that forks,
before it starts any event loop or thread:

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
import functools
import gc
import logging
import socket

import uvicorn
from fastapi import FastAPI

from load_balancer.app import create_app, front_door, health_checker, seed_backends
from load_balancer.settings import BalancerSettings
from load_balancer.shared import SharedState
from services.http import create_http_client
from services.logging_setup import configure_logging
from services.prefork import Child, Prefork, reuseport_sockets
from services.serving import LeanHttpProtocol

__all__ = ["serve", "uvicorn_config"]

log = logging.getLogger("mcsim.lb.master")


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


class _Master:
    """The balancer's processes: the workers and the health checker, forked by a Prefork."""

    def __init__(self, settings: BalancerSettings) -> None:
        self.settings = settings
        self.shared = SharedState.create(settings.workers, between_processes=True)
        seed_backends(self.shared, settings)
        self.sockets: list[socket.socket] = []

    def run(self) -> int:
        try:
            self.sockets = reuseport_sockets(
                self.settings.host, self.settings.port, self.settings.workers
            )
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", self.settings.host, self.settings.port, exc)
            return 1
        children = [Child("health", self._run_health)]
        children += [
            Child(
                f"worker-{worker}",
                functools.partial(self._run_worker, worker),
                before_start=functools.partial(self.shared.reset_worker, worker, 0),
            )
            for worker in range(self.settings.workers)
        ]
        master = Prefork(
            "load balancer",
            children,
            shutdown_timeout=self.settings.shutdown_timeout,
            in_child=lambda role: _logging(self.settings, role),
        )
        try:
            return master.run()
        finally:
            for sock in self.sockets:
                sock.close()

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
