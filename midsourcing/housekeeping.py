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
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from starlette.concurrency import run_in_threadpool

from midsourcing.capture import repository as capture
from midsourcing.capture.repository import FINAL
from midsourcing.quarantine import repository as quarantine
from midsourcing.security import repository as sessions
from midsourcing.settings import MidSettings
from midsourcing.tables import DeliveryLogRow, DeliveryPartRow, Message, MessageKey
from services.clock import utc_now
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


def _delete_in_chunks(db: Database, chunk: int, key: Any, *conditions: Any) -> int:
    """Delete the rows matching ``conditions``, a chunk per transaction (short write locks)."""
    table = key.table
    total = 0
    while True:
        chosen = select(key).where(*conditions).limit(chunk).scalar_subquery()
        with db.transaction(write=True) as session:
            deleted = _rows(session.execute(delete(table).where(key.in_(chosen))))
        total += deleted
        if deleted < chunk:
            return total


def run_housekeeping(
    *, db: Database, retention: Retention, now: datetime, chunk: int = 2_000
) -> dict[str, int]:
    """Apply every retention bound once; return how many rows each removed."""
    finished = Message.status.in_(FINAL)
    aged = _delete_in_chunks(
        db, chunk, Message.id, finished, Message.created_at < now - retention.max_age
    )
    with db.transaction() as session:
        beyond = capture.oldest_finished_beyond(session, keep=retention.max_messages)
    counted = (
        0
        if beyond is None
        else _delete_in_chunks(db, chunk, Message.id, finished, Message.id <= beyond)
    )
    horizon = now - retention.dedupe_window
    report = {
        "messages": aged + counted,
        "logs": _delete_in_chunks(
            db, chunk, DeliveryLogRow.seq, DeliveryLogRow.at < now - retention.log_max_age
        ),
        "message_keys": _delete_in_chunks(
            db, chunk, MessageKey.message_id, MessageKey.accepted_at < horizon
        ),
        "parts": _delete_in_chunks(
            db, chunk, DeliveryPartRow.id, DeliveryPartRow.received_at < horizon
        ),
    }
    with db.transaction(write=True) as session:
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
                run_housekeeping, db=db, retention=retention, now=utc_now()
            )
            if any(report.values()):
                log.info("housekeeping", extra={"deleted": report})
        except Exception:  # the database is busy or down: try again next round
            log.warning("housekeeping failed", exc_info=True)
        await asyncio.sleep(every)
