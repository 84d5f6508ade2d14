"""Retention and expiry, so that storage never grows without limit.

Every few seconds (``MCSIM_MID_HOUSEKEEPING_SECONDS``): finished captured messages beyond the
newest ``RETENTION_MAX_MESSAGES`` or older than ``RETENTION_MAX_AGE_HOURS`` are deleted; so are
delivery logs older than ``LOG_RETENTION_HOURS``, part and message ids older than the dedupe
window, ended quarantines and expired sessions. Messages still queued or being sent are never
deleted.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from starlette.concurrency import run_in_threadpool

from midsourcing.capture import repository as capture
from midsourcing.logs import repository as logs
from midsourcing.quarantine import repository as quarantine
from midsourcing.security import repository as sessions
from midsourcing.settings import MidSettings
from midsourcing.tables import DeliveryPartRow, MessageKey
from services.db import Database

__all__ = ["Retention", "keep_tidy", "run_housekeeping"]

log = logging.getLogger("mcsim.mid.housekeeping")


@dataclass(frozen=True)
class Retention:
    """The bounds housekeeping enforces."""

    max_messages: int
    max_age: timedelta
    log_max_age: timedelta
    dedupe_window: timedelta

    @classmethod
    def from_settings(cls, settings: MidSettings) -> Retention:
        """Return the bounds set by ``settings``."""
        return cls(
            max_messages=settings.retention_max_messages,
            max_age=timedelta(hours=settings.retention_max_age_hours),
            log_max_age=timedelta(hours=settings.log_retention_hours),
            dedupe_window=timedelta(hours=settings.dedupe_window_hours),
        )


def run_housekeeping(*, db: Database, retention: Retention, now: datetime) -> dict[str, int]:
    """Apply every retention bound once; return how many rows each removed."""
    report: dict[str, int] = {}
    with db.transaction(write=True) as session:
        aged = capture.delete_finished(session, before=now - retention.max_age)
        beyond = capture.oldest_finished_beyond(session, keep=retention.max_messages)
        counted = 0 if beyond is None else capture.delete_finished(session, up_to_id=beyond)
        report["messages"] = aged + counted
    with db.transaction(write=True) as session:
        report["logs"] = logs.delete_older_than(session, moment=now - retention.log_max_age)
        horizon = now - retention.dedupe_window
        report["message_keys"] = _rows(
            session.execute(delete(MessageKey).where(MessageKey.accepted_at < horizon))
        )
        report["parts"] = _rows(
            session.execute(delete(DeliveryPartRow).where(DeliveryPartRow.received_at < horizon))
        )
        report["addresses"] = quarantine.delete_expired(session, now=now)
        sessions.delete_expired_sessions(session, now=now)
    return report


def _rows(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


async def keep_tidy(db: Database, retention: Retention, every: float) -> None:
    """Run housekeeping every ``every`` seconds until cancelled."""
    while True:
        try:
            report = await run_in_threadpool(
                run_housekeeping, db=db, retention=retention, now=datetime.now(UTC)
            )
            if any(report.values()):
                log.info("housekeeping", extra={"deleted": report})
        except Exception:  # the database is busy or down: try again next round
            log.warning("housekeeping failed", exc_info=True)
        await asyncio.sleep(every)
