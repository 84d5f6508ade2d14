"""Queries on Logon sessions; never commits (the use cases do)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from midsourcing.tables import SessionToken

__all__ = ["add_session", "delete_expired_sessions", "delete_session", "get_session"]


def add_session(session: Session, row: SessionToken) -> None:
    """Store a new session."""
    session.add(row)


def get_session(session: Session, *, digest: str) -> SessionToken | None:
    """Return the session whose token has ``digest``."""
    return session.execute(
        select(SessionToken).where(SessionToken.digest == digest)
    ).scalar_one_or_none()


def delete_session(session: Session, *, digest: str) -> None:
    """Delete one session."""
    session.execute(delete(SessionToken).where(SessionToken.digest == digest))


def delete_expired_sessions(session: Session, *, now: datetime) -> None:
    """Delete every session that has expired."""
    session.execute(delete(SessionToken).where(SessionToken.expires_at <= now))
