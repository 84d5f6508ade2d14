"""Queries on delivery logs; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from midsourcing.tables import DeliveryLogRow

__all__ = ["delete_older_than", "list_after"]


def list_after(
    session: Session, *, after: int, limit: int, instance: int | None
) -> list[DeliveryLogRow]:
    """Return up to ``limit`` logs whose seq is above ``after`` (of ``instance``), in order."""
    statement = select(DeliveryLogRow).where(DeliveryLogRow.seq > after)
    if instance is not None:
        statement = statement.where(DeliveryLogRow.instance == instance)
    return list(session.execute(statement.order_by(DeliveryLogRow.seq).limit(limit)).scalars())


def delete_older_than(session: Session, *, moment: datetime) -> int:
    """Delete logs written before ``moment``; return how many."""
    result = session.execute(delete(DeliveryLogRow).where(DeliveryLogRow.at < moment))
    return int(cast(CursorResult[Any], result).rowcount)
