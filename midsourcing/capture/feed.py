"""Tell waiting requests that the captured messages changed (a message arrived, or its status).

The mid-sourcing server runs as one process, so a change is told in memory: a long-poll on
``/api/v1/messages`` and the mailbox's event stream wait on :meth:`CaptureFeed.next_change`
instead of polling the database. Changes come from the event loop (a part accepted, a reset, a
delete) and from the recorder's commit thread (outcomes), hence :meth:`changed` may be called
from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ["CaptureFeed"]


class CaptureFeed:
    """A version number and the event of its next change."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.get_ident()
        self.version = 0
        self._next = asyncio.Event()

    def next_change(self) -> asyncio.Event:
        """Return the event set at the next change (take it before reading, then wait on it)."""
        return self._next

    def changed(self) -> None:
        """Record a change and wake whoever waits for it (from any thread)."""
        if threading.get_ident() == self._thread:
            self._fire()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        self.version += 1
        current, self._next = self._next, asyncio.Event()
        current.set()
