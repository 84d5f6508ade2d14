"""Read delivery logs with a cursor: ``nms:delivery#GetDeliveryLogs`` (an emulator choice).

The cursor is the ``seq`` of the last log read, as a string (empty: from the beginning). Logs
are committed in ``seq`` order, so a reader that keeps the returned ``nextCursor`` sees every
log exactly once. Execution instance k asks for ``instanceId`` k and gets the logs of its own
messages only; proofs (event id 0) belong to no instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from midsourcing.logs import repository
from services.db import Database
from services.delivery_protocol import DeliveryLog, FailureType, LogStatus
from services.errors import InvalidRequest
from services.safe_input import ascii_digits

__all__ = ["LogPage", "parse_cursor", "read_delivery_logs"]


@dataclass(frozen=True)
class LogPage:
    """One page of delivery logs and the cursor to ask for the next one."""

    logs: list[DeliveryLog]
    next_cursor: str


def parse_cursor(cursor: str) -> int:
    """Return the seq a cursor stands for; refuse anything else."""
    value = cursor.strip()
    if not value:
        return 0
    if not ascii_digits(value) or len(value) > 19:
        raise InvalidRequest(
            f"invalid cursor {cursor!r}",
            detail="pass back the nextCursor of the previous call, or an empty cursor to start",
            field="cursor",
        )
    return int(value)


def _log(row: Row[Any]) -> DeliveryLog:
    return DeliveryLog(
        seq=row.seq,
        message_id=row.message_id,
        event_id=row.event_id,
        status=LogStatus(row.status),
        failure_type=FailureType(row.failure_type),
        failure_reason=row.failure_reason,
        text=row.text,
        at=row.at,
        tries=row.tries,
    )


def read_delivery_logs(*, db: Database, cursor: str, limit: int, instance: int | None) -> LogPage:
    """Return the logs after ``cursor`` (of ``instance`` when given), at most ``limit``."""
    after = parse_cursor(cursor)
    with db.transaction() as session:
        rows = repository.list_after(session, after=after, limit=limit, instance=instance)
        logs = [_log(row) for row in rows]
    return LogPage(logs, str(logs[-1].seq if logs else after))
