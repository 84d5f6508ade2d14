"""Authenticate callers as DESIGN §3.2 says, and open or close Logon sessions."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from execution_instance.identity import Identity
from execution_instance.security import repository
from execution_instance.tables import SessionToken
from services.auth.passwords import VerificationCache, hash_password
from services.auth.throttle import LogonThrottle
from services.auth.tokens import new_security_token, new_session_token, same_secret, token_digest
from services.auth.zones import SecurityZone, ZoneTable
from services.db import Database
from services.errors import AuthenticationFailed, Forbidden, RateLimited, SessionExpired

__all__ = ["Caller", "Credentials", "Logon", "SecurityService"]


class _NeedsIO(Exception):
    """The in-memory caches cannot answer: the check must run in a thread, with I/O."""


DENIED = "Invalid login or password. Connection denied."
EXPIRED = "Session has expired or is invalid. Please reconnect."
_CACHE_SECONDS = 5.0  # how long operators, tokens and sessions read from the database are reused


@dataclass(frozen=True)
class Credentials:
    """What a call carries that may authenticate it."""

    address: str | None
    body_token: str = ""
    bearer: str | None = None
    cookie_token: str | None = None
    security_token: str | None = None


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    login: str
    zone: str
    method: str  # bearer, session or password


@dataclass(frozen=True)
class Logon:
    """The outcome of ``xtk:session#Logon``."""

    session_token: str
    security_token: str
    login: str
    expires_at: datetime


class SecurityService:
    """Operators, technical tokens and sessions of one execution instance."""

    def __init__(
        self,
        db: Database,
        *,
        zones: list[SecurityZone],
        identity: Identity,
        session_ttl: float,
        password_cache: float,
    ) -> None:
        self.db = db
        self.zones = ZoneTable(zones)
        self.identity = identity
        self.session_ttl = session_ttl
        self.passwords = VerificationCache(ttl=password_cache)
        self.throttle = LogonThrottle()
        self._operators: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._sessions: dict[str, tuple[str, str, float]] = {}
        self._loaded_at = -1.0

    # -- set-up and the control plane ---------------------------------------------------
    def seed(self, *, operators: dict[str, str], technical_tokens: list[str]) -> None:
        """Store the operators and technical tokens given by settings."""
        for login, password in operators.items():
            self.set_operator(login=login, password=password)
        for token in technical_tokens:
            self.set_technical_token(token=token, label="settings", login="mc")

    def set_operator(self, *, login: str, password: str) -> None:
        """Create an operator or change its password (its cached verifications are dropped)."""
        current = self._operators_now().get(login)
        if current is not None and self.passwords.verify(login, current, password):
            return  # unchanged: keep the hash, skip a costly argon2 hash
        now = datetime.now(UTC)
        with self.db.transaction(write=True) as session:
            repository.upsert_operator(
                session, login=login, password_hash=hash_password(password), now=now
            )
        self.passwords.forget(login)
        self._loaded_at = -1.0

    def remove_operator(self, *, login: str) -> bool:
        """Delete an operator and its sessions."""
        with self.db.transaction(write=True) as session:
            found = repository.delete_operator(session, login=login)
        self.passwords.forget(login)
        self._sessions.clear()
        self._loaded_at = -1.0
        return found

    def set_technical_token(self, *, token: str, label: str, login: str) -> None:
        """Accept ``token`` as a bearer technical token acting as ``login``."""
        with self.db.transaction(write=True) as session:
            repository.upsert_technical_token(
                session, digest=token_digest(token), label=label, login=login, now=datetime.now(UTC)
            )
        self._loaded_at = -1.0

    def remove_technical_token(self, *, token: str) -> bool:
        """Stop accepting ``token``."""
        with self.db.transaction(write=True) as session:
            found = repository.delete_technical_token(session, digest=token_digest(token))
        self._loaded_at = -1.0
        return found

    def _operators_now(self, *, io: bool = True) -> dict[str, str]:
        self._refresh(io=io)
        return self._operators

    def refresh(self) -> None:
        """Re-read operators and technical tokens (a background task calls this every second)."""
        self._loaded_at = -1.0
        self._refresh(io=True)

    def _refresh(self, *, io: bool) -> None:
        if time.monotonic() - self._loaded_at < _CACHE_SECONDS:
            return
        if not io:
            if self._loaded_at < 0:
                raise _NeedsIO
            return  # slightly stale; the background refresh reloads it
        with self.db.transaction() as session:
            self._operators = repository.list_operators(session)
            self._tokens = repository.list_technical_tokens(session)
        self._loaded_at = time.monotonic()

    # -- the calls ------------------------------------------------------------------------
    def zone_of(self, address: str | None) -> SecurityZone:
        """Return the caller's zone, or refuse it (Campaign's XSV-350013, HTTP 403)."""
        zone = self.zones.match(address)
        if zone is None:
            error = Forbidden(
                f"XSV-350013 The '{address}' IP address is not authorized to connect "
                "to this execution instance.",
                detail="add the address to a security zone (MCSIM_EXEC_SECURITY_ZONES)",
            )
            raise error
        return zone

    async def authenticate_async(self, credentials: Credentials) -> Caller:
        """Authenticate from memory when the caches can answer, else in a worker thread."""
        try:
            return self.authenticate(credentials, io=False)
        except _NeedsIO:
            return await run_in_threadpool(self.authenticate, credentials)

    def authenticate(self, credentials: Credentials, *, io: bool = True) -> Caller:
        """Return the caller, checking bearer, then session, then login/password (§3.2)."""
        zone = self.zone_of(credentials.address)
        self._refresh(io=io)
        if credentials.bearer is not None:
            login = self._tokens.get(token_digest(credentials.bearer))
            if login is None:
                raise AuthenticationFailed(DENIED, detail="the bearer technical token is not valid")
            return Caller(login=login, zone=zone.name, method="bearer")
        body = credentials.body_token.strip()
        if credentials.cookie_token:
            return self._session_caller(
                credentials.cookie_token, credentials.security_token, zone, io=io
            )
        if body.startswith("___"):
            return self._session_caller(body, None, zone, io=io)
        if "/" in body:
            login, _, password = body.partition("/")
            return self._password_caller(login, password, zone, credentials.address or "", io=io)
        raise SessionExpired(
            EXPIRED,
            detail="no credentials: send a bearer technical token, a Logon session token, "
            "or login/password in <sessiontoken>",
        )

    def _session_caller(
        self, token: str, security_token: str | None, zone: SecurityZone, *, io: bool
    ) -> Caller:
        found = self._find_session(token, io=io)
        if found is None:
            raise SessionExpired(
                EXPIRED,
                detail=f"this session token is unknown to execution instance {self.identity.value} "
                "or has expired. Session tokens are local to the execution instance that issued "
                "them: behind a load balancer, send login/password in <sessiontoken> "
                "(for example mc/password) or a bearer technical token.",
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
        return Caller(login=login, zone=zone.name, method="session")

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
        self._sessions[digest] = (login, security, now + min(_CACHE_SECONDS, remaining))
        return login, security

    def _password_caller(
        self, login: str, password: str, zone: SecurityZone, address: str, *, io: bool
    ) -> Caller:
        if not zone.allow_user_password:
            raise AuthenticationFailed(
                DENIED,
                detail=f"the security zone {zone.name!r} does not allow login/password "
                "in <sessiontoken> (allowUserPassword is off)",
            )
        if password == "" and not zone.allow_empty_password:
            raise AuthenticationFailed(
                DENIED,
                detail=f"the security zone {zone.name!r} does not allow empty passwords",
            )
        self._check_password(login, password, address, io=io)
        return Caller(login=login, zone=zone.name, method="password")

    def _check_password(self, login: str, password: str, address: str, *, io: bool = True) -> None:
        wait = self.throttle.retry_after(login, address)
        if wait > 0:
            raise RateLimited(
                "Too many failed logons. Connection denied.",
                detail=f"retry in {wait:.0f} s",
            )
        stored = self._operators_now(io=io).get(login)
        empty_allowed = password == "" and stored is not None
        remembered = stored is not None and self.passwords.remembers(login, stored, password)
        if stored is not None and not empty_allowed and not io and not remembered:
            raise _NeedsIO  # argon2 takes ~0.1 s: never on the event loop
        if stored is not None and (empty_allowed or self.passwords.verify(login, stored, password)):
            self.throttle.succeeded(login, address)
            return
        self.throttle.failed(login, address)
        raise AuthenticationFailed(DENIED)

    def logon(self, *, address: str | None, login: str, password: str) -> Logon:
        """Open a session (``xtk:session#Logon``) after checking the zone and the password."""
        zone = self.zone_of(address)
        if password == "" and not zone.allow_empty_password:
            raise AuthenticationFailed(DENIED, detail="empty passwords are not allowed here")
        self._check_password(login, password, address or "")
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
