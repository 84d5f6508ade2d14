"""Who may call a SOAP service: security zones, operators, throttled logons, Logon sessions.

The execution instance and the mid-sourcing server authenticate their callers the same way
(DESIGN §3.2, campaign-facts §2.6): the caller's address must be in a security zone; then, in this
order, a session token in the ``__sessiontoken`` cookie with its ``X-Security-Token``, a session
token alone in ``<sessiontoken>`` where the zone has ``sessionTokenOnly``, or ``login/password``
in ``<sessiontoken>`` where the zone has ``allowUserPassword``. Operators are kept as argon2
hashes whose successful verifications are cached; failed logons are throttled per login and
address; sessions are stored by digest (they survive a restart) and cached for a few seconds.

:class:`OperatorSecurity` holds that chain. Each service subclasses it with what is its own:
where its operators come from, its wording, and its extra ways in (technical tokens).
Checks run from memory when the caches can answer; otherwise they raise :class:`NeedsIO` and
:meth:`OperatorSecurity.authenticate_async` runs them again in a worker thread.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Generic, TypeVar

from starlette.concurrency import run_in_threadpool

from services.auth import session_rows
from services.auth.passwords import VerificationCache
from services.auth.session_rows import SessionTokenRow
from services.auth.throttle import LogonThrottle
from services.auth.tokens import new_security_token, new_session_token, same_secret, token_digest
from services.auth.zones import SecurityZone, ZoneTable
from services.clock import utc_now
from services.db import Database
from services.errors import AuthenticationFailed, Forbidden, RateLimited, SessionExpired

__all__ = [
    "DENIED",
    "EXPIRED",
    "SESSION_CACHE_SECONDS",
    "Credentials",
    "Logon",
    "NeedsIO",
    "OperatorSecurity",
]

DENIED = "Invalid login or password. Connection denied."
EXPIRED = "Session has expired or is invalid. Please reconnect."
SESSION_CACHE_SECONDS = 5.0  # how long a session read from the database is reused
_MAX_CACHED_SESSIONS = 10_000


def _too_many(wait: float) -> RateLimited:
    return RateLimited(
        "Too many failed logons. Connection denied.", detail=f"retry in {wait:.0f} s"
    )


def _is_user_password(value: str) -> bool:
    # Session tokens are "___" and a UUID: never a slash.
    return "/" in value and not value.startswith("___")


class NeedsIO(Exception):
    """The in-memory caches cannot answer: the check must run in a thread, with I/O."""


@dataclass(frozen=True)
class Credentials:
    """What a call carries that may authenticate it.

    ``cookie_token`` is the session token sent beside ``<sessiontoken>``: the ``__sessiontoken``
    cookie (HTTP or SOAP Header) or ``X-Session-Token``. There, as in ``<sessiontoken>``, a
    ``login/password`` value is credentials. An empty security token is none (``None``).
    """

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


CredentialsT = TypeVar("CredentialsT", bound=Credentials)
CallerT = TypeVar("CallerT")


class OperatorSecurity(ABC, Generic[CredentialsT, CallerT]):
    """Zones, operators' passwords, logon throttling and Logon sessions of one SOAP service.

    A subclass says which table holds its sessions (:attr:`session_model`), what it calls
    itself (:attr:`server_name`), which setting holds its zones (:attr:`zones_setting`), what a
    caller without credentials is told (:attr:`no_credentials_detail`), whether an empty password
    is enough where a zone allows empty passwords (:attr:`empty_password_logs_on`), and
    implements :meth:`authenticate`.
    """

    session_model: ClassVar[type[SessionTokenRow]]
    server_name: ClassVar[str]
    zones_setting: ClassVar[str]
    no_credentials_detail: ClassVar[str]
    #: Where the zone allows empty passwords, ``login/`` logs an existing operator on without
    #: checking its password (else the empty password is checked like any other).
    empty_password_logs_on: ClassVar[bool] = False

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
        self._operators: dict[str, str] = {}  # login -> argon2 hash
        self._sessions: dict[str, tuple[str, str, float]] = {}  # digest -> login, security, until

    # -- what each service says or does its own way ---------------------------------------
    @abstractmethod
    def authenticate(self, credentials: CredentialsT, *, io: bool = True) -> CallerT:
        """Return the caller, or raise (``NeedsIO`` when ``io`` is off and memory cannot tell)."""

    def _stored_hash(self, login: str, *, io: bool) -> str | None:
        """Return the argon2 hash of ``login``'s password (None for an unknown login)."""
        return self._operators.get(login)

    def _unknown_session_detail(self) -> str:
        """Return the detail of the fault for an unknown or expired session token."""
        return (
            f"this session token is unknown to the {self.server_name} or has expired: "
            "call xtk:session#Logon again"
        )

    def _logon_empty_password_detail(self, zone: SecurityZone) -> str:
        """Return the detail of the fault for an empty password at Logon in ``zone``."""
        return f"the security zone {zone.name!r} does not allow empty passwords"

    # -- the chain ------------------------------------------------------------------------
    def zone_of(self, address: str | None) -> SecurityZone:
        """Return the caller's zone, or refuse it (Campaign's XSV-350013, HTTP 403)."""
        zone = self.zones.match(address)
        if zone is None:
            raise Forbidden(
                f"XSV-350013 The '{address}' IP address is not authorized to connect "
                f"to this {self.server_name}.",
                detail=f"add the address to a security zone ({self.zones_setting})",
            )
        return zone

    async def authenticate_async(self, credentials: CredentialsT) -> CallerT:
        """Authenticate from memory when the caches can answer, else in a worker thread."""
        try:
            return self.authenticate(credentials, io=False)
        except NeedsIO:
            return await run_in_threadpool(self.authenticate, credentials)

    def _login_of(
        self, credentials: Credentials, zone: SecurityZone, *, io: bool
    ) -> tuple[str, str]:
        """Return the login of a session or ``login/password`` caller in ``zone``, and which.

        The second item is ``"session"`` or ``"password"``. Raises SessionExpired when the call
        carries neither. (Every SOAP call comes through here: the session check is inline.)
        """
        body = credentials.body_token.strip()
        security_token = credentials.security_token
        cookie = (credentials.cookie_token or "").strip()
        if cookie and not _is_user_password(cookie):
            token = cookie
        elif cookie or _is_user_password(body):
            # Adobe's JS SDK puts login/password (ofSessionToken("mc/mc")) in the cookie, in
            # X-Session-Token and in <sessiontoken> alike, with an empty security token.
            login, _, password = (cookie or body).partition("/")
            self._check_user_password(login, password, zone, credentials.address or "", io=io)
            return login, "password"
        elif body.startswith("___"):
            token, security_token = body, None
        else:
            raise SessionExpired(EXPIRED, detail=self.no_credentials_detail)
        found = self._find_session(token, io=io)
        if found is None:
            raise SessionExpired(EXPIRED, detail=self._unknown_session_detail())
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
        return login, "session"

    def _find_session(self, token: str, *, io: bool) -> tuple[str, str] | None:
        digest = token_digest(token)
        now = time.monotonic()
        cached = self._sessions.get(digest)
        if cached is not None and cached[2] > now:
            return cached[0], cached[1]
        if not io:
            raise NeedsIO
        with self.db.transaction() as session:
            row = session_rows.get_session(session, self.session_model, digest=digest)
            if row is None or row.expires_at <= utc_now():
                return None
            login, security = row.login, row.security_digest
            remaining = (row.expires_at - utc_now()).total_seconds()
        if len(self._sessions) > _MAX_CACHED_SESSIONS:
            self._sessions.clear()
        self._sessions[digest] = (login, security, now + min(SESSION_CACHE_SECONDS, remaining))
        return login, security

    def _check_user_password(
        self, login: str, password: str, zone: SecurityZone, address: str, *, io: bool
    ) -> None:
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

    def _check_password(self, login: str, password: str, address: str, *, io: bool) -> None:
        """Check the password of ``login`` (the zone already allows it), throttling failures.

        A password verified recently is answered from memory; any other check reserves its
        place in the throttle first, so concurrent guesses are never checked beyond the limit.
        Successes do not clear the failures (they expire with time, see ``LogonThrottle``).
        """
        wait = self.throttle.retry_after(login, address)
        if wait > 0:
            raise _too_many(wait)
        stored = self._stored_hash(login, io=io)
        if stored is None:
            self.throttle.failed(login, address)  # nothing to verify: counted at once
            raise AuthenticationFailed(DENIED)
        if self.empty_password_logs_on and password == "":
            return
        if self.passwords.remembers(login, stored, password):
            return  # verified recently: no argon2 work, one cache look-up
        if not io:
            raise NeedsIO  # argon2 takes ~0.1 s: never on the event loop
        wait = self.throttle.reserve(login, address)
        if wait > 0:
            raise _too_many(wait)
        verified = checked = False
        try:
            verified = self.passwords.verify(login, stored, password)
            checked = True
        finally:
            self.throttle.release(login, address, failed=checked and not verified)
        if not verified:
            raise AuthenticationFailed(DENIED)

    # -- Logon and Logoff -----------------------------------------------------------------
    def logon(self, *, address: str | None, login: str, password: str) -> Logon:
        """Open a session (``xtk:session#Logon``) after checking the zone and the password."""
        zone = self.zone_of(address)
        if password == "" and not zone.allow_empty_password:
            raise AuthenticationFailed(DENIED, detail=self._logon_empty_password_detail(zone))
        self._check_password(login, password, address or "", io=True)
        return self.open_session(login=login)

    def open_session(self, *, login: str) -> Logon:
        """Open a session for ``login``, already authenticated (Logon, BearerTokenLogon)."""
        session_token, security_token = new_session_token(), new_security_token()
        now = utc_now()
        expires = now + timedelta(seconds=self.session_ttl)
        row = self.session_model(
            digest=token_digest(session_token),
            security_digest=token_digest(security_token),
            login=login,
            created_at=now,
            expires_at=expires,
        )
        with self.db.transaction(write=True) as session:
            session_rows.delete_expired_sessions(session, self.session_model, now=now)
            session_rows.add_session(session, row)
        return Logon(session_token, security_token, login, expires)

    def forget_sessions(self) -> None:
        """Drop the sessions read from the database; the next call of each reads it again."""
        self._sessions.clear()

    def logoff(self, *, token: str) -> None:
        """Close a session (``xtk:session#Logoff``)."""
        digest = token_digest(token)
        self._sessions.pop(digest, None)
        with self.db.transaction(write=True) as session:
            session_rows.delete_session(session, self.session_model, digest=digest)
