"""Authenticate the callers of the mid-sourcing server (execution and control instances).

Campaign's marketing instances log on to the mid-sourcing server as the ``mid`` operator with
``xtk:session#Logon`` (campaign-facts §5.2). mcsim accepts, in this order: a session token in the
``__sessiontoken`` cookie with its ``X-Security-Token``; a session token alone in
``<sessiontoken>`` where the caller's zone has ``sessionTokenOnly``; ``login/password`` in
``<sessiontoken>`` where the zone has ``allowUserPassword``. Operators come from settings and
are kept as argon2 hashes; sessions are stored by digest, so they survive a restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from midsourcing.security import repository
from midsourcing.tables import SessionToken
from services.auth.passwords import VerificationCache, hash_password
from services.auth.throttle import LogonThrottle
from services.auth.tokens import new_security_token, new_session_token, same_secret, token_digest
from services.auth.zones import SecurityZone, ZoneTable
from services.db import Database
from services.errors import AuthenticationFailed, Forbidden, RateLimited, SessionExpired

__all__ = ["DENIED", "EXPIRED", "Credentials", "Logon", "MidSecurity"]

DENIED = "Invalid login or password. Connection denied."
EXPIRED = "Session has expired or is invalid. Please reconnect."
_SESSION_CACHE_SECONDS = 5.0


class _NeedsIO(Exception):
    """Memory cannot answer: the check needs the database or argon2, in a thread."""


@dataclass(frozen=True)
class Credentials:
    """What a call carries that may authenticate it."""

    address: str | None
    body_token: str = ""
    cookie_token: str | None = None
    security_token: str | None = None


@dataclass(frozen=True)
class Logon:
    """The outcome of ``xtk:session#Logon``."""

    session_token: str
    security_token: str
    login: str
    expires_at: datetime


class MidSecurity:
    """Operators, zones and sessions of the mid-sourcing server."""

    def __init__(
        self,
        db: Database,
        *,
        zones: list[SecurityZone],
        session_ttl: float,
        password_cache: float,
    ) -> None:
        self.db = db
        self.zones = ZoneTable(zones)
        self.session_ttl = session_ttl
        self.passwords = VerificationCache(ttl=password_cache)
        self.throttle = LogonThrottle()
        self._hashes: dict[str, str] = {}
        self._sessions: dict[str, tuple[str, str, float]] = {}

    def set_operators(self, operators: dict[str, str]) -> None:
        """Accept these operators (hashing their passwords takes about 0.1 s each)."""
        self._hashes = {login: hash_password(password) for login, password in operators.items()}

    def zone_of(self, address: str | None) -> SecurityZone:
        """Return the caller's zone, or refuse it (Campaign's XSV-350013, HTTP 403)."""
        zone = self.zones.match(address)
        if zone is None:
            raise Forbidden(
                f"XSV-350013 The '{address}' IP address is not authorized to connect "
                "to this mid-sourcing server.",
                detail="add the address to a security zone (MCSIM_MID_SECURITY_ZONES)",
            )
        return zone

    async def authenticate_async(self, credentials: Credentials) -> str:
        """Return the caller's login, from memory when possible, else in a worker thread."""
        try:
            return self.authenticate(credentials, io=False)
        except _NeedsIO:
            return await run_in_threadpool(self.authenticate, credentials)

    def authenticate(self, credentials: Credentials, *, io: bool = True) -> str:
        """Return the caller's login, checking session tokens, then login/password."""
        zone = self.zone_of(credentials.address)
        body = credentials.body_token.strip()
        if credentials.cookie_token:
            return self._session_login(
                credentials.cookie_token, credentials.security_token, zone, io=io
            )
        if body.startswith("___"):
            return self._session_login(body, None, zone, io=io)
        if "/" in body:
            login, _, password = body.partition("/")
            if not zone.allow_user_password:
                raise AuthenticationFailed(
                    DENIED,
                    detail=f"the security zone {zone.name!r} does not allow login/password "
                    "in <sessiontoken> (allowUserPassword is off)",
                )
            self._check_password(login, password, zone, credentials.address or "", io=io)
            return login
        raise SessionExpired(
            EXPIRED,
            detail="no credentials: send a Logon session token, or login/password in "
            "<sessiontoken> (for example mid/mid)",
        )

    def _session_login(
        self, token: str, security_token: str | None, zone: SecurityZone, *, io: bool
    ) -> str:
        found = self._find_session(token, io=io)
        if found is None:
            raise SessionExpired(
                EXPIRED,
                detail="this session token is unknown to the mid-sourcing server or "
                "has expired: call xtk:session#Logon again",
            )
        login, security_digest = found
        if security_token is not None:
            if not same_secret(token_digest(security_token), security_digest):
                raise SessionExpired(
                    EXPIRED, detail="the X-Security-Token does not match the session"
                )
        elif not zone.session_token_only:
            raise SessionExpired(
                EXPIRED,
                detail=f"the security zone {zone.name!r} requires the X-Security-Token header "
                "with the session token (sessionTokenOnly is off)",
            )
        return login

    def _find_session(self, token: str, *, io: bool) -> tuple[str, str] | None:
        digest = token_digest(token)
        now = time.monotonic()
        cached = self._sessions.get(digest)
        if cached is not None and cached[2] > now:
            return cached[0], cached[1]
        if not io:
            raise _NeedsIO
        with self.db.transaction() as session:
            row = repository.get_session(session, digest=digest)
            if row is None or row.expires_at <= datetime.now(UTC):
                return None
            login, security = row.login, row.security_digest
            remaining = (row.expires_at - datetime.now(UTC)).total_seconds()
        if len(self._sessions) > 10_000:
            self._sessions.clear()
        self._sessions[digest] = (login, security, now + min(_SESSION_CACHE_SECONDS, remaining))
        return login, security

    def _check_password(
        self, login: str, password: str, zone: SecurityZone, address: str, *, io: bool
    ) -> None:
        if password == "" and not zone.allow_empty_password:
            raise AuthenticationFailed(
                DENIED, detail=f"the security zone {zone.name!r} does not allow empty passwords"
            )
        wait = self.throttle.retry_after(login, address)
        if wait > 0:
            raise RateLimited(
                "Too many failed logons. Connection denied.", detail=f"retry in {wait:.0f} s"
            )
        stored = self._hashes.get(login)
        if stored is not None and not io and not self.passwords.remembers(login, stored, password):
            raise _NeedsIO  # argon2 takes ~0.1 s: never on the event loop
        if stored is not None and self.passwords.verify(login, stored, password):
            self.throttle.succeeded(login, address)
            return
        self.throttle.failed(login, address)
        raise AuthenticationFailed(DENIED)

    def logon(self, *, address: str | None, login: str, password: str) -> Logon:
        """Open a session (``xtk:session#Logon``) after checking the zone and the password."""
        zone = self.zone_of(address)
        self._check_password(login, password, zone, address or "", io=True)
        session_token, security_token = new_session_token(), new_security_token()
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=self.session_ttl)
        row = SessionToken(
            digest=token_digest(session_token),
            security_digest=token_digest(security_token),
            login=login,
            created_at=now,
            expires_at=expires,
        )
        with self.db.transaction(write=True) as session:
            repository.delete_expired_sessions(session, now=now)
            repository.add_session(session, row)
        return Logon(session_token, security_token, login, expires)

    def logoff(self, *, token: str) -> None:
        """Close a session (``xtk:session#Logoff``)."""
        digest = token_digest(token)
        self._sessions.pop(digest, None)
        with self.db.transaction(write=True) as session:
            repository.delete_session(session, digest=digest)
