"""Use cases of technical accounts: create, change, delete, and rotate their client secrets.

Client secrets are stored as argon2 hashes (they are only ever checked, never sent again), with
their first characters to recognise them; the API shows a secret once, when it is made.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from contextlib import suppress
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_instance.ims.schemas import (
    ClientSecretCreated,
    ClientSecretPublic,
    TechnicalAccountCreate,
    TechnicalAccountCreated,
    TechnicalAccountPublic,
    TechnicalAccountUpdate,
)
from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.tables import TechnicalAccount, TechnicalAccountSecret
from services.auth.ims import DEFAULT_SCOPES, message_center_profile
from services.auth.passwords import hash_password
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, NotFound

__all__ = [
    "add_client_secret",
    "create_technical_account",
    "delete_client_secret",
    "delete_technical_account",
    "ensure_technical_account",
    "get_technical_account",
    "list_technical_accounts",
    "profiles_of",
    "public_account",
    "scopes_of",
    "update_technical_account",
]


def new_client_secret() -> str:
    """Return a generated client secret (``p8e-`` and random characters, as Adobe's look)."""
    return "p8e-" + secrets.token_urlsafe(24)


def _hint(secret: str) -> str:
    return secret[: min(8, len(secret) // 4)]


def scopes_of(row: TechnicalAccount) -> list[str]:
    """Return an account's scopes."""
    return [scope for scope in row.scopes.split(",") if scope]


def profiles_of(row: TechnicalAccount) -> list[str]:
    """Return an account's product profiles."""
    profiles: list[str] = json.loads(row.product_profiles)
    return profiles


def _secret(row: TechnicalAccountSecret) -> ClientSecretPublic:
    return ClientSecretPublic(
        uuid=row.uuid, hint=row.hint, created_at=row.created_at, last_used_at=row.last_used_at
    )


def public_account(session: Session, row: TechnicalAccount) -> TechnicalAccountPublic:
    """Return the wire shape of an account, with its secrets' metadata."""
    secret_rows = session.scalars(
        select(TechnicalAccountSecret)
        .where(TechnicalAccountSecret.account_id == row.id)
        .order_by(TechnicalAccountSecret.created_at, TechnicalAccountSecret.id)
    ).all()
    return TechnicalAccountPublic(
        id=row.id,
        name=row.name,
        client_id=row.client_id,
        technical_account_id=row.account_user,
        scopes=scopes_of(row),
        product_profiles=profiles_of(row),
        client_secrets=[_secret(s) for s in secret_rows],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _get(session: Session, account_id: int) -> TechnicalAccount:
    row = session.get(TechnicalAccount, account_id)
    if row is None:
        raise NotFound(f"no technical account {account_id}")
    return row


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def list_technical_accounts(*, db: Database, page: PageParams) -> Page[TechnicalAccountPublic]:
    """Return a page of technical accounts, by name."""
    with db.transaction() as session:
        statement = select(TechnicalAccount).order_by(TechnicalAccount.name, TechnicalAccount.id)
        rows, total = fetch_page(session, statement, page)
        items = [public_account(session, row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def get_technical_account(*, db: Database, account_id: int) -> TechnicalAccountPublic:
    """Return one technical account."""
    with db.transaction() as session:
        return public_account(session, _get(session, account_id))


def create_technical_account(
    *, db: Database, new: TechnicalAccountCreate, campaign_instance: str
) -> TechnicalAccountCreated:
    """Create a technical account and its first client secret (returned this once)."""
    secret = new.client_secret or new_client_secret()
    client_id = new.client_id or secrets.token_hex(16)
    profiles = (
        new.product_profiles
        if new.product_profiles is not None
        else [message_center_profile(campaign_instance)]
    )
    now = utc_now()
    secret_hash = hash_password(secret)  # ~0.1 s: outside the transaction
    try:
        with db.transaction(write=True) as session:
            row = TechnicalAccount(
                client_id=client_id,
                name=new.name,
                account_user=f"{secrets.token_hex(12).upper()}@techacct.adobe.com",
                scopes=",".join(_unique(new.scopes or DEFAULT_SCOPES)),
                product_profiles=json.dumps(_unique(profiles)),
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            session.add(_secret_row(row.id, secret, secret_hash, now))
            session.flush()
            public = public_account(session, row)
    except IntegrityError:
        raise Conflict(
            f"a technical account with client id {client_id!r} exists already", field="client_id"
        ) from None
    return TechnicalAccountCreated(technical_account=public, client_secret=secret)


def ensure_technical_account(
    *, db: Database, name: str, client_id: str, client_secret: str, campaign_instance: str
) -> None:
    """Create the account ``client_id`` with that secret unless it exists (the demo's)."""
    with db.transaction() as session:
        found = session.scalar(
            select(TechnicalAccount.id).where(TechnicalAccount.client_id == client_id)
        )
    if found is None:
        with suppress(Conflict):  # created meanwhile
            create_technical_account(
                db=db,
                new=TechnicalAccountCreate(
                    name=name, client_id=client_id, client_secret=client_secret
                ),
                campaign_instance=campaign_instance,
            )


def update_technical_account(
    *, db: Database, account_id: int, changes: TechnicalAccountUpdate
) -> TechnicalAccountPublic:
    """Change an account's name, scopes or product profiles (new tokens carry them)."""
    with db.transaction(write=True) as session:
        row = _get(session, account_id)
        if changes.name is not None:
            row.name = changes.name
        if changes.scopes is not None:
            row.scopes = ",".join(_unique(changes.scopes))
        if changes.product_profiles is not None:
            row.product_profiles = json.dumps(_unique(changes.product_profiles))
        row.updated_at = utc_now()
        return public_account(session, row)


def delete_technical_account(*, db: Database, account_id: int) -> None:
    """Delete an account and its secrets (tokens already issued live until they expire)."""
    with db.transaction(write=True) as session:
        row = _get(session, account_id)
        session.execute(
            delete(TechnicalAccountSecret).where(TechnicalAccountSecret.account_id == row.id)
        )
        session.delete(row)


def add_client_secret(*, db: Database, account_id: int) -> ClientSecretCreated:
    """Add a generated client secret to an account (returned this once)."""
    secret = new_client_secret()
    secret_hash = hash_password(secret)
    with db.transaction(write=True) as session:
        _get(session, account_id)
        row = _secret_row(account_id, secret, secret_hash, utc_now())
        session.add(row)
        session.flush()
        return ClientSecretCreated(secret=_secret(row), client_secret=secret)


def delete_client_secret(*, db: Database, account_id: int, secret_uuid: str) -> None:
    """Delete a client secret; the last one stays (add the new one first, then delete)."""
    with db.transaction(write=True) as session:
        _get(session, account_id)
        row = session.scalar(
            select(TechnicalAccountSecret).where(
                TechnicalAccountSecret.account_id == account_id,
                TechnicalAccountSecret.uuid == secret_uuid,
            )
        )
        if row is None:
            raise NotFound(f"technical account {account_id} has no client secret {secret_uuid}")
        count = session.scalar(
            select(func.count())
            .select_from(TechnicalAccountSecret)
            .where(TechnicalAccountSecret.account_id == account_id)
        )
        if (count or 0) <= 1:
            raise Conflict(
                "this is the account's last client secret",
                detail="rotate by adding a new secret (POST …/secrets), moving the "
                "integration to it, then deleting this one",
            )
        session.delete(row)


def _secret_row(
    account_id: int, secret: str, secret_hash: str, now: datetime
) -> TechnicalAccountSecret:
    return TechnicalAccountSecret(
        uuid=str(uuid.uuid4()),
        account_id=account_id,
        secret_hash=secret_hash,
        hint=_hint(secret),
        created_at=now,
        last_used_at=None,
    )
