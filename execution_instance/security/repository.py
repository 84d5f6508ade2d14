"""Queries on operators and technical tokens; never commits (the use cases do).

Logon sessions are queried by ``services.auth.session_rows``, shared with the mid-sourcing server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, select
from sqlalchemy.orm import Session

from execution_instance.tables import Operator, SessionToken, TechnicalToken

__all__ = [
    "delete_operator",
    "delete_technical_token",
    "list_operators",
    "list_technical_tokens",
    "upsert_operator",
    "upsert_technical_token",
]


def list_operators(session: Session) -> dict[str, str]:
    """Return every operator's login and password hash."""
    rows = session.execute(select(Operator.login, Operator.password_hash)).all()
    return {login: password_hash for login, password_hash in rows}


def upsert_operator(session: Session, *, login: str, password_hash: str, now: datetime) -> None:
    """Add an operator or replace its password hash."""
    row = session.get(Operator, login)
    if row is None:
        session.add(Operator(login=login, password_hash=password_hash, created_at=now))
    else:
        row.password_hash = password_hash


def delete_operator(session: Session, *, login: str) -> bool:
    """Delete an operator and its sessions; return whether it existed."""
    session.execute(delete(SessionToken).where(SessionToken.login == login))
    return _count(session.execute(delete(Operator).where(Operator.login == login))) > 0


def list_technical_tokens(session: Session) -> dict[str, str]:
    """Return every technical token's digest and operator login."""
    rows = session.execute(select(TechnicalToken.digest, TechnicalToken.login)).all()
    return {digest: login for digest, login in rows}


def upsert_technical_token(
    session: Session, *, digest: str, label: str, login: str, now: datetime
) -> None:
    """Add a technical token (by digest) or relabel it."""
    row = session.get(TechnicalToken, digest)
    if row is None:
        session.add(TechnicalToken(digest=digest, label=label, login=login, created_at=now))
    else:
        row.label, row.login = label, login


def delete_technical_token(session: Session, *, digest: str) -> bool:
    """Delete a technical token; return whether it existed."""
    return (
        _count(session.execute(delete(TechnicalToken).where(TechnicalToken.digest == digest))) > 0
    )


def _count(result: Result[Any]) -> int:
    return cast(CursorResult[Any], result).rowcount
