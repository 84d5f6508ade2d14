"""Queries on delivery logs; never commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from midsourcing.tables import delivery_logs_table

__all__ = ["list_after"]

_LOGS = delivery_logs_table.c


def list_after(session: Session, *, after: int, limit: int, instance: int | None) -> list[Row[Any]]:
    """Return up to ``limit`` logs whose seq is above ``after`` (of ``instance``), in order.

    Rows of the table's columns (Core: no ORM object per log, thousands a second are read).
    """
    statement = select(delivery_logs_table).where(_LOGS.seq > after)
    if instance is not None:
        statement = statement.where(_LOGS.instance == instance)
    return list(session.execute(statement.order_by(_LOGS.seq).limit(limit)))
