"""Use cases of the quarantine API: list, read and release addresses."""

from __future__ import annotations

from midsourcing.delivery.reasons import FailureReason
from midsourcing.quarantine import repository
from midsourcing.quarantine.addresses import address_digest
from midsourcing.quarantine.schemas import AddressPage, AddressPublic, ReleaseResult
from midsourcing.tables import Address
from services.clock import utc_now
from services.db import Database
from services.errors import NotFound

__all__ = ["get_address", "list_addresses", "release_address", "release_all"]

_KINDS = ("email", "sms", "ios")  # the digest of ios and android is the same (push)


def _public(row: Address) -> AddressPublic:
    try:
        label = FailureReason(row.failure_reason).label
    except ValueError:
        label = f"Reason {row.failure_reason}"
    return AddressPublic(
        address=row.address,
        channel=row.channel,
        status=row.status,
        failure_type=row.failure_type,
        failure_reason=row.failure_reason,
        failure_label=label,
        error_count=row.error_count,
        text=row.text,
        first_error_at=row.first_error_at,
        last_error_at=row.last_error_at,
        expires_at=row.expires_at,
    )


def list_addresses(
    *,
    db: Database,
    status: str | None,
    channel: str | None,
    contains: str | None,
    limit: int,
    offset: int,
) -> AddressPage:
    """Return a page of the addresses with errors or in quarantine."""
    with db.transaction() as session:
        total, rows = repository.list_addresses(
            session,
            now=utc_now(),
            status=status,
            channel=channel,
            contains=contains,
            limit=limit,
            offset=offset,
        )
        addresses = [_public(row) for row in rows]
    return AddressPage(total=total, offset=offset, limit=limit, addresses=addresses)


def _digests(address: str) -> list[str]:
    return [address_digest(kind, address) for kind in _KINDS]


def get_address(*, db: Database, address: str) -> AddressPublic:
    """Return what is known about ``address`` (any channel)."""
    now = utc_now()
    with db.transaction() as session:
        for digest in _digests(address):
            row = repository.get_address(session, digest=digest, now=now)
            if row is not None:
                return _public(row)
    raise NotFound(f"{address} is neither in quarantine nor has delivery errors", field="address")


def release_address(*, db: Database, address: str) -> None:
    """Release ``address``: it is sent to again, and its error count starts over."""
    with db.transaction(write=True) as session:
        released = [repository.delete_address(session, digest=d) for d in _digests(address)]
    if not any(released):
        raise NotFound(
            f"{address} is neither in quarantine nor has delivery errors", field="address"
        )


def release_all(*, db: Database, status: str | None) -> ReleaseResult:
    """Release every address (of ``status``, when given)."""
    with db.transaction(write=True) as session:
        return ReleaseResult(released=repository.delete_all(session, status=status))
