"""Queries on delivery logs; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from midsourcing.tables import delivery_logs_table

__all__ = ["list_after", "list_for_message"]

_LOGS = delivery_logs_table.c


def list_after(session: Session, *, after: int, limit: int, instance: int | None) -> list[Row[Any]]:
    """Return up to ``limit`` logs whose seq is above ``after`` (of ``instance``), in order.

    Rows of the table's columns (Core: no ORM object per log, thousands a second are read).
    """
    statement = select(delivery_logs_table).where(_LOGS.seq > after)
    if instance is not None:
        statement = statement.where(_LOGS.instance == instance)
    return list(session.execute(statement.order_by(_LOGS.seq).limit(limit)))


def list_for_message(session: Session, *, message_id: str, since: datetime) -> list[Row[Any]]:
    """Return the logs of one message in order (no log of it is older than ``since``).

    ``since`` (the message's acceptance) bounds the scan on the ``at`` index: message ids have
    none of their own, and the delivery path writes them without one.
    """
    statement = (
        select(delivery_logs_table)
        .where(_LOGS.at >= since, _LOGS.message_id == message_id)
        .order_by(_LOGS.seq)
    )
    return list(session.execute(statement))
