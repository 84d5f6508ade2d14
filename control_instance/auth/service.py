"""Use cases of operators: the first admin, logins, tokens, sessions and CSRF, operator CRUD."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from control_instance.auth.roles import Principal, Role
from control_instance.auth.schemas import OperatorCreate, OperatorPublic, OperatorUpdate
from control_instance.pagination import Page, PageParams, fetch_page
from control_instance.settings import DEV_ADMIN
from control_instance.tables import AuthToken, Operator
from services.auth.passwords import hash_password, verify_password
from services.auth.throttle import LogonThrottle
from services.auth.tokens import same_secret, token_digest
from services.clock import utc_now
from services.db import Database
from services.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
)

__all__ = [
    "Issued",
    "authenticate",
    "check_csrf",
    "check_login",
    "create_operator",
    "delete_operator",
    "ensure_admin",
    "get_operator",
    "list_operators",
    "log_in",
    "log_out",
    "public",
    "update_operator",
]

DENIED = "Invalid login or password."


class _Dummy:
    """A hash verified when the login is unknown, so unknown logins take as long as wrong ones."""

    hash: str | None = None

    @classmethod
    def get(cls) -> str:
        if cls.hash is None:
            cls.hash = hash_password(secrets.token_hex(8))
        return cls.hash


@dataclass(frozen=True)
class Issued:
    """A token (or session) just issued, with its CSRF token for sessions."""

    token: str
    csrf_token: str | None
    expires_at: datetime
    operator: OperatorPublic


def public(row: Operator) -> OperatorPublic:
    """Return the API view of an operator."""
    return OperatorPublic(
        id=row.id,
        login=row.login,
        name=row.name,
        role=Role(row.role),
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def ensure_admin(*, db: Database, password: str | None) -> bool:
    """Create the ``admin`` operator when there is no operator at all; return whether it did."""
    with db.transaction(write=True) as session:
        if session.execute(select(func.count()).select_from(Operator)).scalar_one():
            return False
        if not password:
            raise InvalidRequest(
                "the control instance has no operator and no admin password",
                detail="set MCSIM_CONTROL_ADMIN_PASSWORD for the first start",
            )
        now = utc_now()
        session.add(
            Operator(
                login=DEV_ADMIN[0],
                name="Administrator",
                role=Role.ADMIN.value,
                password_hash=hash_password(password),
                disabled=False,
                created_at=now,
                updated_at=now,
            )
        )
    return True


def check_login(
    *,
    db: Database,
    throttle: LogonThrottle,
    login: str,
    password: str,
    address: str,
    production: bool,
) -> Operator:
    """Return the enabled operator ``login`` if ``password`` is its own, or refuse (throttled).

    The check is reserved in the throttle before it runs, so concurrent guesses are never
    checked beyond the limit; a success does not clear earlier failures (they expire).
    """
    wait = throttle.reserve(login, address)
    if wait > 0:
        raise RateLimited("Too many failed logins.", detail=f"retry in {wait:.0f} s")
    accepted = checked = False
    try:
        with db.transaction() as session:
            row = session.execute(
                select(Operator).where(Operator.login == login)
            ).scalar_one_or_none()
        matches = verify_password(row.password_hash if row else _Dummy.get(), password)
        accepted, checked = row is not None and matches and not row.disabled, True
    finally:
        throttle.release(login, address, failed=checked and not accepted)
    if row is None or not accepted:
        raise AuthenticationFailed(DENIED)
    if production and (login, password) == DEV_ADMIN:
        raise Forbidden(
            "The development password of 'admin' is refused in production.",
            detail="set another password (MCSIM_CONTROL_ADMIN_PASSWORD on a new database, or "
            "PATCH /api/v1/operators/{id} from a development copy)",
        )
    return row


def log_in(
    *,
    db: Database,
    throttle: LogonThrottle,
    login: str,
    password: str,
    address: str,
    kind: str,
    ttl_seconds: int,
    production: bool,
) -> Issued:
    """Check a login and issue a bearer token (``kind="bearer"``), a console or SOAP session.

    A console session (``kind="session"``) gets a CSRF token; a SOAP session (``kind="soap"``,
    ``xtk:session#Logon``) gets its security token the same way, in ``csrf_token``.
    """
    row = check_login(
        db=db,
        throttle=throttle,
        login=login,
        password=password,
        address=address,
        production=production,
    )
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32) if kind in ("session", "soap") else None
    now = utc_now()
    expires = now + timedelta(seconds=ttl_seconds)
    with db.transaction(write=True) as session:
        session.execute(delete(AuthToken).where(AuthToken.expires_at <= now))
        session.add(
            AuthToken(
                digest=token_digest(token),
                operator_id=row.id,
                kind=kind,
                csrf_digest=token_digest(csrf) if csrf else None,
                created_at=now,
                expires_at=expires,
            )
        )
    return Issued(token=token, csrf_token=csrf, expires_at=expires, operator=public(row))


def authenticate(*, db: Database, token: str, kind: str) -> Principal:
    """Return the operator behind a bearer token or session cookie, or refuse it."""
    digest = token_digest(token)
    with db.transaction() as session:
        found = session.execute(
            select(AuthToken, Operator)
            .join(Operator, Operator.id == AuthToken.operator_id)
            .where(AuthToken.digest == digest, AuthToken.kind == kind)
        ).first()
    if found is None:
        raise AuthenticationFailed("the token is unknown or was revoked: log in again")
    auth, operator = found
    if auth.expires_at <= utc_now():
        raise AuthenticationFailed("the token has expired: log in again")
    if operator.disabled:
        raise AuthenticationFailed("this operator is disabled")
    return Principal(
        operator_id=operator.id,
        login=operator.login,
        role=Role(operator.role),
        kind=kind,
        token_digest=digest,
    )


def check_csrf(*, db: Database, principal: Principal, csrf_token: str | None) -> None:
    """Refuse a change made with a session cookie unless it carries the session's CSRF token."""
    if not csrf_token:
        raise Forbidden(
            "CSRF check failed: send the session's token in the X-CSRF-Token header",
            field="X-CSRF-Token",
        )
    with db.transaction() as session:
        expected = session.execute(
            select(AuthToken.csrf_digest).where(AuthToken.digest == principal.token_digest)
        ).scalar_one_or_none()
    if not expected or not same_secret(token_digest(csrf_token), expected):
        raise Forbidden("CSRF check failed: the X-CSRF-Token does not match the session")


def log_out(*, db: Database, principal: Principal) -> None:
    """Revoke the token or session the request authenticated with."""
    with db.transaction(write=True) as session:
        session.execute(delete(AuthToken).where(AuthToken.digest == principal.token_digest))


def list_operators(*, db: Database, page: PageParams) -> Page[OperatorPublic]:
    """Return a page of operators, by login."""
    with db.transaction() as session:
        rows, total = fetch_page(session, select(Operator).order_by(Operator.login), page)
        items = [public(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def get_operator(*, db: Database, operator_id: int) -> OperatorPublic:
    """Return one operator."""
    with db.transaction() as session:
        return public(_get(session, operator_id))


def create_operator(*, db: Database, new: OperatorCreate) -> OperatorPublic:
    """Create an operator (its password is stored as an argon2 hash)."""
    now = utc_now()
    row = Operator(
        login=new.login,
        name=new.name,
        role=new.role.value,
        password_hash=hash_password(new.password),
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    try:
        with db.transaction(write=True) as session:
            session.add(row)
    except IntegrityError:
        raise Conflict(f"an operator {new.login!r} exists already", field="login") from None
    return public(row)


def update_operator(
    *, db: Database, operator_id: int, changes: OperatorUpdate, actor: Principal
) -> OperatorPublic:
    """Change an operator; a password change ends its tokens and sessions."""
    with db.transaction(write=True) as session:
        row = _get(session, operator_id)
        demoted = changes.role is not None and changes.role is not Role.ADMIN
        if (demoted or changes.disabled) and row.role == Role.ADMIN.value:
            _keep_an_admin(session, row.id)
        if changes.disabled and row.id == actor.operator_id:
            raise Conflict("an operator cannot disable itself")
        if changes.name is not None:
            row.name = changes.name
        if changes.role is not None:
            row.role = changes.role.value
        if changes.disabled is not None:
            row.disabled = changes.disabled
        if changes.password is not None:
            row.password_hash = hash_password(changes.password)
            session.execute(delete(AuthToken).where(AuthToken.operator_id == row.id))
        row.updated_at = utc_now()
        return public(row)


def delete_operator(*, db: Database, operator_id: int, actor: Principal) -> None:
    """Delete an operator (not oneself, not the last admin)."""
    with db.transaction(write=True) as session:
        row = _get(session, operator_id)
        if row.id == actor.operator_id:
            raise Conflict("an operator cannot delete itself")
        if row.role == Role.ADMIN.value:
            _keep_an_admin(session, row.id)
        session.execute(delete(AuthToken).where(AuthToken.operator_id == row.id))
        session.delete(row)


def _get(session: Session, operator_id: int) -> Operator:
    row = session.get(Operator, operator_id)
    if row is None:
        raise NotFound(f"no operator {operator_id}")
    return row


def _keep_an_admin(session: Session, leaving: int) -> None:
    others = session.execute(
        select(func.count())
        .select_from(Operator)
        .where(
            Operator.role == Role.ADMIN.value,
            Operator.disabled.is_(False),
            Operator.id != leaving,
        )
    ).scalar_one()
    if not others:
        raise Conflict("the last enabled admin cannot be removed, demoted or disabled")
