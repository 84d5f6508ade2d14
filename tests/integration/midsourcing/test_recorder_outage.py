"""The outcome recorder while its database is down (issue 17): it keeps outcomes, and a stop
during the outage ends in bounded time instead of retrying forever until the process is killed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from midsourcing.delivery.recorder import OutcomeRecorder
from midsourcing.delivery.repository import Finished


class DownDatabase:
    """A database that cannot be reached: every transaction fails as psycopg's would."""

    def __init__(self) -> None:
        self.tries = 0

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Any]:
        self.tries += 1
        raise OperationalError("BEGIN", {}, Exception("connection refused"))
        yield  # pragma: no cover


async def test_outcomes_are_kept_while_the_database_is_down() -> None:
    db = DownDatabase()
    recorder = OutcomeRecorder(db, worker="w1")  # type: ignore[arg-type]
    await recorder.start()
    waiting = asyncio.create_task(recorder.record(Finished(None, None)))  # type: ignore[arg-type]
    await asyncio.sleep(1.0)
    assert not waiting.done()  # not dropped, not reported recorded
    assert db.tries >= 3  # retried with backoff
    waiting.cancel()
    assert recorder._task is not None
    recorder._task.cancel()  # the bounded stop is the next test


async def test_a_stop_during_the_outage_gives_up_in_bounded_time() -> None:
    recorder = OutcomeRecorder(DownDatabase(), worker="w1")  # type: ignore[arg-type]
    await recorder.start()
    waiting = asyncio.create_task(recorder.record(Finished(None, None)))  # type: ignore[arg-type]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    async with asyncio.timeout(20):  # before: retried every 5 s for ever
        await recorder.stop()
    assert time.monotonic() - started < 15
    with pytest.raises(asyncio.CancelledError):
        await waiting  # the try is told its outcome was not recorded
