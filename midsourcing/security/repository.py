"""Queries on Logon sessions; never commits (the use cases do)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from midsourcing.tables import SessionToken
from services.auth import session_rows

__all__ = ["delete_expired_sessions"]


def delete_expired_sessions(session: Session, *, now: datetime) -> None:
    """Delete every session that has expired (housekeeping)."""
    session_rows.delete_expired_sessions(session, SessionToken, now=now)
