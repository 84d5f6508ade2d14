"""Run an execution instance as processes: ``python -m execution_instance``.

With the layout of one web process and no processing process (``MCSIM_EXEC_PROCESSING_PROCESSES
=0``) the instance is one uvicorn process, as ``create_app`` builds it. Otherwise a small master
(:class:`services.prefork.Prefork`) first migrates the database and does the start-up work
once (:func:`~execution_instance.state.prepare_instance`), then forks
(:mod:`execution_instance.processes` says what they share):

* ``web-N``: uvicorn serving a socket of its own on the instance's port (``SO_REUSEPORT``);
* ``processing-N``: the processing workers, on an event loop without HTTP; ``processing-0``
  also runs the status sync.

A child that dies is started again; events a dead processing process held are retaken when
their claim's lease ends, as after a crash of a single-process instance.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import signal
import socket

import uvicorn
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from execution_instance.app import create_app, running
from execution_instance.processes import (
    ProcessContext,
    ProcessLayout,
    Role,
    SharedMemory,
    Wakeup,
)
from execution_instance.settings import ExecutionSettings
from execution_instance.state import ExecutionState, prepare_instance
from services.database_wait import open_when_reachable, stop_on_signals, wait_until_reachable
from services.db import Database
from services.errors import McsimError
from services.http import create_http_client
from services.logging_setup import configure_logging
from services.prefork import Child, Prefork, reuseport_sockets
from services.runner import uvicorn_options

__all__ = ["ConfigurationSync", "serve"]

log = logging.getLogger("mcsim.execution")

MIGRATIONS = "execution_instance:migrations"


def serve(settings: ExecutionSettings) -> int:
    """Run the instance until it is told to stop; return the exit code."""
    layout = settings.layout()
    if layout.single:
        uvicorn.run(
            create_app(settings), host=settings.host, port=settings.port, **uvicorn_options()
        )
        return 0
    return _Master(settings, layout).run()


class ConfigurationSync:
    """The ASGI wrapper of a web process: caches that follow the other processes' changes.

    Before each request, if another process committed a control-plane change since this one
    last looked, the caches are re-read first. A control-plane change (any ``/_mc/`` call but
    a read) bumps the shared generation before its answer leaves, so that whichever process
    takes the caller's next call knows of it.
    """

    def __init__(self, app: FastAPI, shared: SharedMemory) -> None:
        self.app = app
        self.shared = shared
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.shared.moved():
            state: ExecutionState | None = getattr(self.app.state, "execution", None)
            if state is not None:
                async with self._lock:  # one re-read for every request waiting on it
                    try:
                        await asyncio.to_thread(state.catch_up)
                    except Exception:  # the database is down: serve what is known, retry next
                        log.warning("cannot re-read the caches after a change", exc_info=True)
        if scope["path"].startswith("/_mc/") and scope["method"] not in {"GET", "HEAD"}:
            await self.app(scope, receive, self._bumping(send))
            return
        await self.app(scope, receive, send)

    def _bumping(self, send: Send) -> Send:
        async def bump_then_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.shared.bump()
            await send(message)

        return bump_then_send


def _tune_gc() -> None:
    # What exists at start-up lives as long as the process: keep it out of every collection.
    gc.collect()
    gc.freeze()


class _Master:
    """Prepare the database once, then fork the web and processing processes."""

    def __init__(self, settings: ExecutionSettings, layout: ProcessLayout) -> None:
        self.settings = settings
        self.layout = layout
        self.shared = SharedMemory.create(between_processes=True)
        self.wakeup = Wakeup()
        self.sockets: list[socket.socket] = []

    def run(self) -> int:
        settings = self.settings
        try:
            db = Database(settings.resolved_database_url(), schema=settings.database_schema)

            def prepare() -> str:
                revision = db.upgrade(MIGRATIONS)
                prepare_instance(settings, db)
                return revision

            try:
                # PostgreSQL down at start-up: wait for it, answering 503 meanwhile.
                with stop_on_signals() as stop:
                    revision = open_when_reachable(
                        db,
                        prepare,
                        host=settings.host,
                        port=settings.port,
                        service=settings.service_name,
                        instance_id=settings.instance_id,
                        stop=stop,
                    )
            finally:
                db.dispose()  # no connection crosses the fork
        except McsimError as exc:
            log.error("cannot start: %s", exc.message, extra={"detail": exc.detail})
            return 1
        log.info(
            "database ready",
            extra={
                "database": db.describe(),
                "revision": revision,
                "processes": self.layout.describe(),
            },
        )
        try:
            self.sockets = reuseport_sockets(settings.host, settings.port, self.layout.web)
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", settings.host, settings.port, exc)
            return 1
        roles = self.layout.roles()
        children = [
            Child(f"{role}-{index}", functools.partial(self._run, role, index))
            for role, index in roles
        ]
        slots = {f"{role}-{index}": slot for slot, (role, index) in enumerate(roles)}
        master = Prefork(
            f"execution instance {settings.instance_id}",
            children,
            shutdown_timeout=10,
            in_child=self._logging,
            on_started=lambda role, pid: self.shared.set_process(slots[role], role, pid),
        )
        try:
            return master.run()
        finally:
            for sock in self.sockets:
                sock.close()

    def _logging(self, role: str) -> None:
        configure_logging(
            service=self.settings.service_name,
            level=self.settings.log_level,
            fmt=self.settings.log_format.value,
            instance=str(self.settings.instance_id),
            process=role,
        )

    def _run(self, role: Role, index: int) -> None:
        process = ProcessContext(role=role, index=index, shared=self.shared, wakeup=self.wakeup)
        # Restarted by the master while PostgreSQL is down: wait for it rather than fail at
        # once and be restarted again in a loop (a web process answers 503 meanwhile).
        settings = self.settings
        url = settings.resolved_database_url()
        if url.startswith(("postgres://", "postgresql")):
            db = Database(url, schema=settings.database_schema)
            try:
                wait_until_reachable(
                    db,
                    service=settings.service_name,
                    instance_id=settings.instance_id,
                    sock=self.sockets[index] if role is Role.WEB else None,
                )
            finally:
                db.dispose()
        if role is Role.WEB:
            self._run_web(process)
            return
        for sock in self.sockets:
            sock.close()  # HTTP is the web processes' work
        asyncio.run(_processing(self.settings, process))

    def _run_web(self, process: ProcessContext) -> None:
        for index, sock in enumerate(self.sockets):
            if index != process.index:
                sock.close()  # only this worker's socket: the others belong to its siblings
        app = create_app(self.settings, process=process)
        front = ConfigurationSync(app, process.shared)
        config = uvicorn.Config(
            front, host=self.settings.host, port=self.settings.port, **uvicorn_options()
        )
        _tune_gc()
        uvicorn.Server(config).run(sockets=[self.sockets[process.index]])


async def _processing(settings: ExecutionSettings, process: ProcessContext) -> None:
    """Run the processing workers until SIGTERM or SIGINT."""
    db = Database(settings.resolved_database_url(), schema=settings.database_schema)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with create_http_client() as http:
            state = ExecutionState.build(settings, db, http, shared=process.shared)
            async with running(state, intake=False, processing=True, sync=process.index == 0):

                def woken() -> None:
                    if process.wakeup.drain():
                        state.processor.notify()

                loop.add_reader(process.wakeup.reader(), woken)
                log.info(
                    "processing started",
                    extra={"workers": settings.workers, "status_sync": process.index == 0},
                )
                try:
                    await stop.wait()
                finally:
                    loop.remove_reader(process.wakeup.reader())
        log.info("processing stopped")
    finally:
        db.dispose()
