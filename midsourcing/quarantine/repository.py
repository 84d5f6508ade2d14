"""Queries on addresses (quarantine); never commits (the use cases do)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, func, or_, select
from sqlalchemy.orm import Session

from midsourcing.quarantine.addresses import AddressChange, AddressEffect, AddressStatus
from midsourcing.tables import Address

__all__ = [
    "apply_changes",
    "delete_address",
    "delete_all",
    "delete_expired",
    "get_address",
    "list_addresses",
    "quarantined_among",
]

_CHUNK = 500


def _active(now: datetime) -> Any:
    return or_(Address.expires_at.is_(None), Address.expires_at > now)


def quarantined_among(session: Session, *, digests: Sequence[str], now: datetime) -> set[str]:
    """Return which of ``digests`` are addresses in quarantine now."""
    found: set[str] = set()
    unique = sorted(set(digests))
    for start in range(0, len(unique), _CHUNK):
        statement = select(Address.digest).where(
            Address.digest.in_(unique[start : start + _CHUNK]),
            Address.status == AddressStatus.QUARANTINE.value,
            _active(now),
        )
        found.update(session.execute(statement).scalars())
    return found


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    if first is None or second is None:
        return None  # a quarantine without an end stays without an end
    return max(first, second)


def apply_changes(session: Session, changes: Sequence[AddressChange]) -> None:
    """Apply what outcomes do to their addresses, in order."""
    if not changes:
        return
    if all(change.effect is AddressEffect.CLEAR for change in changes):
        _clear(session, sorted({change.digest for change in changes}))  # the usual batch
        return
    digests = sorted({change.digest for change in changes})
    rows: dict[str, Address] = {}
    for start in range(0, len(digests), _CHUNK):
        statement = select(Address).where(Address.digest.in_(digests[start : start + _CHUNK]))
        rows.update((row.digest, row) for row in session.execute(statement).scalars())
    for change in changes:
        row = rows.get(change.digest)
        if change.effect is AddressEffect.CLEAR:
            if row is not None and row.status == AddressStatus.WITH_ERRORS.value:
                session.delete(row)
                del rows[change.digest]
            continue
        status = (
            AddressStatus.QUARANTINE
            if change.effect is AddressEffect.QUARANTINE
            else AddressStatus.WITH_ERRORS
        )
        if row is None:
            row = Address(
                digest=change.digest,
                address=change.address,
                channel=change.channel,
                status=status.value,
                failure_type=change.failure_type.value,
                failure_reason=change.reason,
                error_count=1,
                text=change.text,
                first_error_at=change.at,
                last_error_at=change.at,
                expires_at=change.expires_at,
            )
            session.add(row)
            rows[change.digest] = row
            continue
        row.error_count += 1
        row.last_error_at = change.at
        if row.status == AddressStatus.QUARANTINE.value and status is AddressStatus.WITH_ERRORS:
            continue  # a retried soft bounce never lifts a quarantine
        row.expires_at = (
            _later(row.expires_at, change.expires_at)
            if row.status == AddressStatus.QUARANTINE.value
            else change.expires_at
        )
        row.status = status.value
        row.failure_type = change.failure_type.value
        row.failure_reason = change.reason
        row.text = change.text


def _clear(session: Session, digests: Sequence[str]) -> None:
    for start in range(0, len(digests), _CHUNK):
        session.execute(
            delete(Address).where(
                Address.digest.in_(digests[start : start + _CHUNK]),
                Address.status == AddressStatus.WITH_ERRORS.value,
            )
        )


def list_addresses(
    session: Session,
    *,
    now: datetime,
    status: str | None,
    channel: str | None,
    contains: str | None,
    limit: int,
    offset: int,
) -> tuple[int, list[Address]]:
    """Return how many addresses match and one page of them, the latest errors first."""
    conditions: list[Any] = [_active(now)]
    if status:
        conditions.append(Address.status == status)
    if channel:
        conditions.append(Address.channel == channel)
    if contains:
        conditions.append(Address.address.icontains(contains, autoescape=True))
    total = session.execute(select(func.count()).select_from(Address).where(*conditions))
    page = session.execute(
        select(Address)
        .where(*conditions)
        .order_by(Address.last_error_at.desc(), Address.digest)
        .limit(limit)
        .offset(offset)
    )
    return int(total.scalar_one()), list(page.scalars())


def get_address(session: Session, *, digest: str, now: datetime) -> Address | None:
    """Return the active row of an address."""
    statement = select(Address).where(Address.digest == digest, _active(now))
    return session.execute(statement).scalar_one_or_none()


def _count(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def delete_address(session: Session, *, digest: str) -> bool:
    """Delete an address row; return whether it existed."""
    return _count(session.execute(delete(Address).where(Address.digest == digest))) > 0


def delete_all(session: Session, *, status: str | None = None) -> int:
    """Delete every address row (of ``status``); return how many."""
    statement = delete(Address)
    if status:
        statement = statement.where(Address.status == status)
    return _count(session.execute(statement))


def delete_expired(session: Session, *, now: datetime) -> int:
    """Delete addresses whose quarantine or error record has ended."""
    statement = delete(Address).where(Address.expires_at.is_not(None), Address.expires_at <= now)
    return _count(session.execute(statement))
