"""Server-side waits (issue 16): how long a long-poll may hold a request, and what ends it early.

A test that waits for a message or a status asks the server to answer once it is there (``wait``
seconds at most) instead of polling in a loop of its own. The cap stays below the load
balancer's read timeout (``MCSIM_LB_READ_TIMEOUT``, 30 s), so a wait through it never ends in a
504. Long-polls and streams (Server-Sent Events) end when the HTTP server shuts down:
:func:`server_stopping`, called by :mod:`services.serving` when uvicorn begins its graceful
shutdown, wakes every one of them (a long-poll then answers what it has), so that a waiting test
or an open mailbox tab never holds a stop for the graceful timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["MAX_WAIT_SECONDS", "server_stopping", "stream_stop", "wait_any"]

#: The longest a request may wait on the server (seconds).
MAX_WAIT_SECONDS = 25.0

# The stop events of the streams open in this process (one HTTP server per process).
_streams: set[asyncio.Event] = set()


@contextmanager
def stream_stop() -> Iterator[asyncio.Event]:
    """Yield an event set when the server begins to shut down, while a wait or stream lasts."""
    stop = asyncio.Event()
    _streams.add(stop)
    try:
        yield stop
    finally:
        _streams.discard(stop)


def server_stopping() -> None:
    """Tell every open stream to end (the server is shutting down)."""
    for stop in list(_streams):
        stop.set()


async def wait_any(*events: asyncio.Event, seconds: float) -> bool:
    """Wait until one of ``events`` is set or ``seconds`` pass; return whether one was."""
    if any(event.is_set() for event in events):
        return True
    if seconds <= 0:
        return False
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
    return bool(done)
