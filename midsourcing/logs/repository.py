"""Queries on delivery logs; never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from midsourcing.tables import DeliveryLogRow

__all__ = ["list_after"]


def list_after(
    session: Session, *, after: int, limit: int, instance: int | None
) -> list[DeliveryLogRow]:
    """Return up to ``limit`` logs whose seq is above ``after`` (of ``instance``), in order."""
    statement = select(DeliveryLogRow).where(DeliveryLogRow.seq > after)
    if instance is not None:
        statement = statement.where(DeliveryLogRow.instance == instance)
    return list(session.execute(statement.order_by(DeliveryLogRow.seq).limit(limit)).scalars())
