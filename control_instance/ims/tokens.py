"""The token exchange of Adobe IMS: ``POST /ims/token/v3`` with the client credentials grant.

Parameters come form-encoded in the body or in the query (IMS takes both); ``scope`` is
comma-separated (spaces are accepted too, as OAuth libraries join scopes with them). Every
requested scope must be one of the account's; the token then carries the scopes requested.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from control_instance.ims.errors import (
    InvalidClient,
    InvalidScope,
    TokenRequestError,
    TooManyAttempts,
    UnsupportedGrantType,
)
from control_instance.ims.keys import SigningKeys
from control_instance.ims.schemas import TokenAnswer
from control_instance.ims.service import profiles_of, scopes_of
from control_instance.tables import TechnicalAccount, TechnicalAccountSecret
from services.auth.ims import DEFAULT_SCOPES, PROFILES_CLAIM
from services.auth.passwords import verify_password
from services.auth.throttle import LogonThrottle
from services.clock import unix_time, utc_now
from services.db import Database

__all__ = ["CONSOLE_CLIENT_ID", "TokenRequest", "issue_console_token", "issue_token"]

GRANT = "client_credentials"
#: The client id of the tokens the control instance signs for its own calls (the console's test
#: events), never handed out.
CONSOLE_CLIENT_ID = "mcsim-console"

TokenRequest = Mapping[str, str]


def _parameter(request: TokenRequest, name: str) -> str:
    return (request.get(name) or "").strip()


def _requested_scopes(raw: str) -> list[str]:
    return list(dict.fromkeys(s for s in raw.replace(" ", ",").split(",") if s))


def issue_token(
    *,
    db: Database,
    keys: SigningKeys,
    request: TokenRequest,
    ttl_seconds: int,
    issuer: str,
    throttle: LogonThrottle,
    address: str,
) -> TokenAnswer:
    """Check the client credentials and scopes; return a signed access token.

    Wrong secrets are throttled per client id and address as failed logons are.
    """
    grant = _parameter(request, "grant_type")
    if not grant:
        raise TokenRequestError(
            "grant_type parameter is required", detail=f"send grant_type={GRANT}"
        )
    if grant != GRANT:
        raise UnsupportedGrantType(
            f"unsupported grant_type {grant!r}",
            detail=f"OAuth server-to-server credentials use grant_type={GRANT}",
        )
    client_id = _parameter(request, "client_id")
    client_secret = request.get("client_secret") or ""
    if not client_id:
        raise InvalidClient("invalid client_id parameter", detail="client_id is required")
    if not client_secret:
        raise InvalidClient("invalid client_secret parameter", detail="client_secret is required")
    key = f"ims-client:{client_id}"
    wait = throttle.retry_after(key, address)
    if wait > 0:
        raise _too_many(wait)
    with db.transaction() as session:
        account = session.scalar(
            select(TechnicalAccount).where(TechnicalAccount.client_id == client_id)
        )
        if account is None:
            raise InvalidClient(
                "invalid client_id parameter",
                detail=f"no technical account has the client id {client_id!r}",
            )
        hashes = session.execute(
            select(TechnicalAccountSecret.id, TechnicalAccountSecret.secret_hash).where(
                TechnicalAccountSecret.account_id == account.id
            )
        ).all()
        allowed, profiles = scopes_of(account), profiles_of(account)
        user = account.account_user
    wait = throttle.reserve(key, address)
    if wait > 0:
        raise _too_many(wait)
    matched: int | None = None
    try:
        matched = next(
            (sid for sid, hashed in hashes if verify_password(hashed, client_secret)), None
        )
    finally:
        throttle.release(key, address, failed=matched is None)
    if not hashes:
        raise InvalidClient(
            "invalid client_secret parameter",
            detail="this technical account has no client secret (imported from a package?): "
            "add one at /api/v1/technical-accounts/{id}/secrets",
        )
    if matched is None:
        raise InvalidClient(
            "invalid client_secret parameter",
            detail="the secret is not one of this technical account's client secrets "
            "(deleted by a rotation?)",
        )
    scopes = _requested_scopes(_parameter(request, "scope"))
    if not scopes:
        raise InvalidScope(
            "invalid_scope",
            detail="the scope parameter is required: a comma-separated list of the account's "
            f"scopes ({','.join(allowed)})",
        )
    unknown = [scope for scope in scopes if scope not in allowed]
    if unknown:
        raise InvalidScope(
            "invalid_scope",
            detail=f"the technical account does not have the scope(s) {','.join(unknown)}; "
            f"it has {','.join(allowed)}",
        )
    now = unix_time()
    with db.transaction(write=True) as session:
        used = session.get(TechnicalAccountSecret, matched)
        if used is not None:
            used.last_used_at = utc_now()
    token = keys.sign(_claims(client_id, user, scopes, profiles, now, ttl_seconds, issuer))
    # IMS answers 86399 for its 24 h tokens: the seconds left once the answer is on its way.
    return TokenAnswer(access_token=token, expires_in=max(ttl_seconds - 1, 1))


def issue_console_token(
    *, keys: SigningKeys, user: str, profile: str, issuer: str, ttl_seconds: int
) -> str:
    """Return a short-lived access token of the console operator ``user`` with ``profile``."""
    claims = _claims(
        CONSOLE_CLIENT_ID, user, list(DEFAULT_SCOPES), [profile], unix_time(), ttl_seconds, issuer
    )
    return keys.sign(claims)


def _too_many(wait: float) -> TooManyAttempts:
    return TooManyAttempts(
        "too many wrong client secrets: try again later", detail=f"retry in {wait:.0f} s"
    )


def _claims(
    client_id: str,
    user: str,
    scopes: list[str],
    profiles: list[str],
    now: float,
    ttl: int,
    issuer: str,
) -> dict[str, Any]:
    created_ms = int(now * 1000)
    return {
        "id": f"{created_ms}_{uuid.uuid4()}_ue1",
        "type": "access_token",
        "client_id": client_id,
        "user_id": user,
        "as": "ims-na1",
        "aa_id": user,
        "ctp": 0,
        "moi": secrets.token_hex(4),
        "pba": "",
        "scope": ",".join(scopes),
        "created_at": str(created_ms),
        "expires_in": str(ttl * 1000),
        PROFILES_CLAIM: profiles,
        "iss": issuer,
        "iat": int(now),
        "exp": int(now) + ttl,
    }
