"""Queries on a service's ``session_tokens`` table; never commits (the use cases do).

The execution instance and the mid-sourcing server each keep their Logon sessions in a table of
their own with the same columns; these queries serve both, given the service's mapped class.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Protocol, TypeVar, cast

from sqlalchemy import CursorResult, FromClause, delete
from sqlalchemy.orm import Session

__all__ = [
    "SessionTokenRow",
    "add_session",
    "delete_expired_sessions",
    "delete_session",
    "get_session",
]


class SessionTokenRow(Protocol):
    """A mapped row of a ``session_tokens`` table: tokens are stored by SHA-256 digest."""

    __table__: ClassVar[FromClause]
    digest: str
    security_digest: str
    login: str
    created_at: datetime
    expires_at: datetime

    def __init__(
        self,
        *,
        digest: str,
        security_digest: str,
        login: str,
        created_at: datetime,
        expires_at: datetime,
    ) -> None: ...


RowT = TypeVar("RowT", bound=SessionTokenRow)


def add_session(session: Session, row: SessionTokenRow) -> None:
    """Store a new Logon session."""
    session.add(row)


def get_session(session: Session, model: type[RowT], *, digest: str) -> RowT | None:
    """Return the session whose token has this digest."""
    return session.get(model, digest)


def delete_session(session: Session, model: type[SessionTokenRow], *, digest: str) -> None:
    """Delete a session (Logoff)."""
    session.execute(delete(model).where(model.__table__.c.digest == digest))


def delete_expired_sessions(
    session: Session, model: type[SessionTokenRow], *, now: datetime
) -> int:
    """Delete expired sessions; return how many."""
    result = session.execute(delete(model).where(model.__table__.c.expires_at <= now))
    return cast(CursorResult[Any], result).rowcount
