"""Structured logging: one JSON object a line, with the request id of the request being served."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the supervisor logs too, and needs no web framework
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "RequestLogMiddleware",
    "configure_logging",
    "log_request",
    "new_request_id",
    "request_id",
]

request_id: ContextVar[str | None] = ContextVar("mcsim_request_id", default=None)

_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "color_message"}
)
# One encoder for every line: json.dumps() with options builds a new one per call.
_encode_json = json.JSONEncoder(default=str, ensure_ascii=False).encode


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request id, extras."""

    def __init__(self, service: str, instance: str | None, process: str | None = None) -> None:
        super().__init__()
        self.service = service
        self.instance = instance
        self.process = process
        self._second = -1
        self._second_text = ""

    def _timestamp(self, created: float) -> str:
        # Every line of a second shares its date and time: format them once a second.
        second = int(created)
        if second != self._second:
            text = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")
            self._second, self._second_text = second, text[:-6]  # without "+00:00"
        millis = min(int((created - second) * 1000), 999)
        return f"{self._second_text}.{millis:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        entry: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self.instance is not None:
            entry["instance"] = self.instance
        if self.process is not None:
            entry["process"] = self.process
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        attributes = vars(record)
        if attributes.keys() - _STANDARD_ATTRS:  # in C: most records have no extras
            for key, value in attributes.items():
                if key not in _STANDARD_ATTRS and not key.startswith("_"):
                    entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _encode_json(entry)


class TextFormatter(logging.Formatter):
    """Format a record for people: time, level, service, message and extras."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)-7s " + service + " %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one readable line."""
        line = super().format(record)
        extras = {
            k: v
            for k, v in vars(record).items()
            if k not in _STANDARD_ATTRS and not k.startswith("_")
        }
        rid = request_id.get()
        if rid:
            extras["request_id"] = rid
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def configure_logging(
    *,
    service: str,
    level: str = "INFO",
    fmt: str = "json",
    instance: str | None = None,
    process: str | None = None,
) -> None:
    """Send every log line of the process to stderr in the chosen format.

    ``process``: the role of this process when its service runs as several (``web-0``, …).
    """
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter(service, instance, process) if fmt == "json" else TextFormatter(service)
    )
    handler.setFormatter(formatter)
    # No line shows a thread or process name: spare every record looking them up (~25 %).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Requests are logged once, by RequestLogMiddleware.
    logging.getLogger("uvicorn.access").disabled = True


class RequestLogMiddleware:
    """Give every request an id (``X-Request-Id``, kept when the caller sends one) and log it."""

    def __init__(self, app: ASGIApp, *, logger_name: str = "mcsim.http") -> None:
        self.app = app
        self.log = logging.getLogger(logger_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with its id set, then log method, path, status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id(scope)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != b"x-request-id"]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log_request(self.log, scope, status, started)
            request_id.reset(token)


def new_request_id(scope: Scope) -> str:
    """Return the request's id: the caller's ``X-Request-Id`` when it is safe to log, else new."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            # Keep ids that are safe to log; anything else gets a fresh one.
            if 0 < len(text) <= 128 and text.isprintable():
                return text
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


def log_request(
    log: logging.Logger, scope: Scope, status: int, started: float, *, level: int = logging.INFO
) -> None:
    """Log one served request: method, path, status and duration since ``started``."""
    if not log.isEnabledFor(level):
        return
    method, path = scope["method"], scope["path"]
    log.log(
        level,
        "%s %s %d",
        method,
        path,
        status,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
