"""Wait for a PostgreSQL database that cannot be reached at start-up, instead of exiting.

A service whose database is down when it starts used to exit at once; under a supervisor or
``restart: unless-stopped`` that is a crash loop until the database is back. Now it retries
(1 s, doubling up to 10 s, logging each failure) and meanwhile answers every request on its
port with 503 — ``GET /health`` with ``{"status": "starting", "database": "unreachable",
"detail": <the driver's reason>}`` — so that ``mcsim status``, the supervisor and a container
health check see why it is not ready. Once the database answers, the waiting server closes and
the service starts as usual.

Only PostgreSQL is waited for: a SQLite file that cannot be opened (a wrong path, no
permission) will not appear by waiting, and a database written by a newer mcsim is refused at
once, as before.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import TypeVar

from services.db import Database, DatabaseError
from services.version import VERSION

__all__ = ["WaitingServer", "open_when_reachable", "stop_on_signals", "wait_until_reachable"]

log = logging.getLogger("mcsim.database")

_T = TypeVar("_T")
_FIRST_DELAY, _LONGEST_DELAY = 1.0, 10.0


class WaitingServer:
    """A tiny HTTP server that answers 503 on the service's port while it waits."""

    def __init__(
        self,
        host: str,
        port: int,
        service: str,
        instance_id: int | None,
        *,
        sock: socket.socket | None = None,
    ) -> None:
        """Listen on ``host:port``, or answer on ``sock``, a listening socket that stays open."""
        self.reason = ""
        self._borrowed = sock is not None
        self.since = time.monotonic()
        waiting = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                waited = round(time.monotonic() - waiting.since, 1)
                if self.path.split("?", 1)[0] == "/health":
                    body: dict[str, object] = {
                        "status": "starting",
                        "service": service,
                        "instance_id": instance_id,
                        "version": VERSION,
                        "database": "unreachable",
                        "detail": waiting.reason,
                        "uptime_s": waited,
                    }
                else:
                    body = {
                        "error": "database_unavailable",
                        "message": f"The {service} is starting: it waits for its database.",
                        "detail": waiting.reason,
                    }
                data = json.dumps(body).encode()
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Retry-After", "5")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _answer  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler, bind_and_activate=sock is None)
        if sock is not None:  # a pre-forked process's share of the port (SO_REUSEPORT)
            self._server.socket.close()
            self._server.socket = sock
            self._server.server_address = sock.getsockname()
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="waiting-for-database", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop answering and free the port (a borrowed socket is left open for its owner)."""
        self._server.shutdown()
        if not self._borrowed:
            self._server.server_close()
        self._thread.join(5)


def _unreachable(exc: DatabaseError) -> bool:
    """Return whether ``exc`` says the server could not be reached (not a refusal of ours)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc.__cause__, OperationalError | InterfaceError)


def open_when_reachable(
    db: Database,
    prepare: Callable[[], _T],
    *,
    host: str,
    port: int,
    service: str,
    instance_id: int | None = None,
    stop: threading.Event | None = None,
) -> _T:
    """Run ``prepare`` (open and migrate ``db``), retrying while PostgreSQL is unreachable.

    ``stop`` (see :func:`stop_on_signals`) ends the wait: :class:`DatabaseError` is raised.
    """
    stop = stop or threading.Event()
    delay = _FIRST_DELAY
    waiting: WaitingServer | None = None
    try:
        while True:
            try:
                result = prepare()
            except DatabaseError as exc:
                if not (db.is_postgres and _unreachable(exc)):
                    raise
                cause = getattr(exc.__cause__, "orig", None) or exc.__cause__
                reason = (str(cause).strip().splitlines() or ["unreachable"])[0]
                if waiting is None:
                    waiting = _start_waiting(host, port, service, instance_id)
                if waiting is not None:
                    waiting.reason = reason
                _log_unreachable(db, reason, delay)
            else:
                if waiting is not None:
                    log.info("database %s reachable: starting", db.describe())
                return result
            db.dispose()
            if stop.wait(delay):
                raise DatabaseError(
                    f"stopped while waiting for the database {db.describe()}",
                    detail="a stop signal came before the database answered",
                )
            delay = min(delay * 2, _LONGEST_DELAY)
    finally:
        if waiting is not None:
            waiting.close()


def wait_until_reachable(
    db: Database,
    *,
    service: str,
    instance_id: int | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Return once PostgreSQL answers (at once for SQLite, or when it already answers).

    For a process forked after the database was prepared (an execution instance's web and
    processing processes, restarted by their master while PostgreSQL is down): it waits
    instead of failing at start and being restarted in a loop; a web process answers 503 on
    its share of the port (``sock``) meanwhile.
    """
    if not db.is_postgres:
        return
    delay = _FIRST_DELAY
    waiting: WaitingServer | None = None
    try:
        while True:
            reason = _probe(db)
            if reason is None:
                if waiting is not None:
                    log.info("database %s reachable: starting", db.describe())
                return
            if waiting is None and sock is not None:
                waiting = WaitingServer("", 0, service, instance_id, sock=sock)
            if waiting is not None:
                waiting.reason = reason
            _log_unreachable(db, reason, delay)
            db.dispose()
            time.sleep(delay)
            delay = min(delay * 2, _LONGEST_DELAY)
    finally:
        if waiting is not None:
            waiting.close()


def _probe(db: Database) -> str | None:
    """Return why the database cannot be reached, or None when it answers."""
    from sqlalchemy import text
    from sqlalchemy.exc import InterfaceError, OperationalError

    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, InterfaceError) as exc:
        cause = exc.orig or exc
        return (str(cause).strip().splitlines() or ["unreachable"])[0]
    return None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Yield an event that SIGTERM and SIGINT set (their earlier handlers still run).

    uvicorn notes a stop signal only once the application has started; a service waiting for
    its database must hear it before. Outside the main thread (a test server) nothing is
    installed and the event is never set.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        earlier = previous[signal.Signals(signum)]
        if callable(earlier):
            earlier(signum, frame)

    for signum in previous:
        signal.signal(signum, handler)
    try:
        yield stop
    finally:
        for signum, earlier in previous.items():
            if earlier is not None:  # None: a handler not installed from Python, left alone
                signal.signal(signum, earlier)


def _start_waiting(
    host: str, port: int, service: str, instance_id: int | None
) -> WaitingServer | None:
    with contextlib.suppress(OSError):
        return WaitingServer(host, port, service, instance_id)
    log.warning("cannot answer on %s:%s while waiting for the database", host, port)
    return None


def _log_unreachable(db: Database, reason: str, delay: float) -> None:
    log.warning(
        "database %s unreachable (%s); retrying in %g s",
        db.describe(),
        reason,
        delay,
        extra={"event": "database_unreachable", "retry_in_s": delay},
    )
