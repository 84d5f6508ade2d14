"""The archiving loop: one pass on every enabled instance each interval, and a daily-ish purge."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.concurrency import run_in_threadpool

from control_instance.archive.service import archive_all, purge_archive, purge_instances
from control_instance.state import ControlState

__all__ = ["Archiver"]

log = logging.getLogger("mcsim.control.archive")

#: How often archived events past their retention are purged.
PURGE_EVERY_SECONDS = 3600.0


class Archiver:
    """Run archiving in the background while the control instance runs."""

    def __init__(self, state: ControlState) -> None:
        self.state = state
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (not when the interval setting is 0)."""
        if self.state.settings.archive_interval_seconds > 0:
            self._task = asyncio.create_task(self._run(), name="archiving")

    async def stop(self) -> None:
        """Stop the loop and wait for its current pass to end."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None

    async def _run(self) -> None:
        settings = self.state.settings
        purged_at = 0.0
        while True:
            await asyncio.sleep(settings.archive_interval_seconds)
            try:
                for outcome in await archive_all(state=self.state):
                    if not outcome.ok:
                        log.warning("archiving %s failed: %s", outcome.name, outcome.error)
                if time.monotonic() - purged_at >= PURGE_EVERY_SECONDS:
                    purged = await run_in_threadpool(
                        lambda: purge_archive(
                            db=self.state.db, retention_days=settings.archive_retention_days
                        )
                    )
                    await purge_instances(state=self.state)
                    purged_at = time.monotonic()
                    if purged:
                        log.info("purged %d archived events", purged)
            except Exception:  # the database is down: try again at the next interval
                log.warning("archiving pass failed", exc_info=True)
