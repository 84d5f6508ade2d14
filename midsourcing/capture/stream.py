"""The mailbox's live updates: a Server-Sent Events stream of changes to the captured messages.

One ``event: messages`` (its data: the change number) per change, at most one every
:data:`COALESCE_SECONDS` (a burst of deliveries is one refresh), a comment every
:data:`KEEP_ALIVE_SECONDS` so that proxies keep the connection, and the end of the stream when
the server shuts down (the browser's ``EventSource`` reconnects by itself, after ``retry``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from midsourcing.capture.feed import CaptureFeed
from services.waiting import stream_stop, wait_any

__all__ = ["COALESCE_SECONDS", "KEEP_ALIVE_SECONDS", "changes"]

COALESCE_SECONDS = 0.25
KEEP_ALIVE_SECONDS = 15.0


async def changes(
    feed: CaptureFeed, *, keep_alive: float = KEEP_ALIVE_SECONDS
) -> AsyncIterator[bytes]:
    """Yield the stream's bytes until the server stops (or the client goes away)."""
    with stream_stop() as stop:
        sent = feed.version
        yield f"retry: 2000\nevent: ready\ndata: {sent}\n\n".encode()
        while not stop.is_set():
            if feed.version != sent:
                sent = feed.version
                yield f"event: messages\ndata: {sent}\n\n".encode()
                await wait_any(stop, seconds=COALESCE_SECONDS)
                continue
            change = feed.next_change()
            if not await wait_any(change, stop, seconds=keep_alive):
                yield b": keep-alive\n\n"
