"""Authenticate callers as DESIGN §3.2 says, and open or close Logon sessions.

The chain (zones, session tokens, ``login/password``, throttling, Logon and Logoff) is
:class:`services.auth.security.OperatorSecurity`; what is the execution instance's own is here:
operators and bearer technical tokens kept in its database (and re-read every few seconds, so
that replicas sharing it agree), Adobe IMS access tokens (:mod:`.ims`, DESIGN §3.2a), the
``Caller`` it answers with, and its instance-id aware wording.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from execution_instance.identity import Identity
from execution_instance.security import repository
from execution_instance.security.ims import ImsVerifier
from execution_instance.tables import SessionToken
from services.auth import security
from services.auth.ims import looks_like_jwt
from services.auth.passwords import hash_password
from services.auth.security import DENIED, EXPIRED, Logon, NeedsIO, OperatorSecurity
from services.auth.session_rows import SessionTokenRow
from services.auth.tokens import token_digest
from services.auth.zones import SecurityZone
from services.clock import utc_now
from services.db import Database
from services.errors import AuthenticationFailed, InvalidApiKey

__all__ = ["DENIED", "EXPIRED", "Caller", "Credentials", "Logon", "SecurityService"]

_CACHE_SECONDS = 5.0  # how long operators and technical tokens read from the database are reused


@dataclass(frozen=True)
class Credentials(security.Credentials):
    """What a call carries that may authenticate it: also a bearer token.

    ``api_key`` is the REST API's ``X-Api-Key`` ("" when the header is missing); None where it
    is not asked for (SOAP). An IMS access token needs it to name the token's client.
    """

    bearer: str | None = None
    api_key: str | None = None


@dataclass(frozen=True)
class Caller:
    """An authenticated caller."""

    login: str
    zone: str
    method: str  # bearer, ims, session or password
    client_id: str | None = None  # the technical account of an IMS access token


class SecurityService(OperatorSecurity[Credentials, Caller]):
    """Operators, technical tokens and sessions of one execution instance."""

    session_model: ClassVar[type[SessionTokenRow]] = SessionToken
    server_name: ClassVar[str] = "execution instance"
    zones_setting: ClassVar[str] = "MCSIM_EXEC_SECURITY_ZONES"
    no_credentials_detail: ClassVar[str] = (
        "no credentials: send a bearer technical token or IMS access token, a Logon "
        "session token, or login/password in <sessiontoken>"
    )
    empty_password_logs_on: ClassVar[bool] = True

    def __init__(
        self,
        db: Database,
        *,
        zones: list[SecurityZone],
        identity: Identity,
        session_ttl: float,
        password_cache: float,
        ims: ImsVerifier | None = None,
    ) -> None:
        super().__init__(db, zones=zones, session_ttl=session_ttl, password_cache=password_cache)
        self.identity = identity
        self.ims = ims or ImsVerifier(None, ims_url=None, campaign_instance="")
        self._tokens: dict[str, str] = {}  # technical token digest -> login
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
        current = self._stored_hash(login, io=True)
        if current is not None and self.passwords.verify(login, current, password):
            return  # unchanged: keep the hash, skip a costly argon2 hash
        now = utc_now()
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
                session, digest=token_digest(token), label=label, login=login, now=utc_now()
            )
        self._loaded_at = -1.0

    def remove_technical_token(self, *, token: str) -> bool:
        """Stop accepting ``token``."""
        with self.db.transaction(write=True) as session:
            found = repository.delete_technical_token(session, digest=token_digest(token))
        self._loaded_at = -1.0
        return found

    def refresh(self) -> None:
        """Re-read operators and technical tokens (a background task calls this every second)."""
        self._loaded_at = -1.0
        self._refresh(io=True)

    def _refresh(self, *, io: bool) -> None:
        if time.monotonic() - self._loaded_at < _CACHE_SECONDS:
            return
        if not io:
            if self._loaded_at < 0:
                raise NeedsIO
            return  # slightly stale; the background refresh reloads it
        with self.db.transaction() as session:
            self._operators = repository.list_operators(session)
            self._tokens = repository.list_technical_tokens(session)
        self._loaded_at = time.monotonic()

    def _stored_hash(self, login: str, *, io: bool) -> str | None:
        self._refresh(io=io)
        return self._operators.get(login)

    def _unknown_session_detail(self) -> str:
        return (
            f"this session token is unknown to execution instance {self.identity.value} "
            "or has expired. Session tokens are local to the execution instance that issued "
            "them: behind a load balancer, send login/password in <sessiontoken> "
            "(for example mc/password) or a bearer technical token."
        )

    def _logon_empty_password_detail(self, zone: SecurityZone) -> str:
        return "empty passwords are not allowed here"

    # -- the calls ------------------------------------------------------------------------
    async def prepare_bearer(self, token: str | None) -> None:
        """Read IMS's signing keys first if ``token`` is an IMS token signed by a new key."""
        if token and looks_like_jwt(token.strip()):
            await self.ims.prepare(token.strip())

    async def authenticate_async(self, credentials: Credentials) -> Caller:
        """Authenticate from memory when the caches can answer, else in a worker thread."""
        await self.prepare_bearer(credentials.bearer)
        return await super().authenticate_async(credentials)

    def bearer_logon(self, *, address: str | None, token: str) -> Logon:
        """Open a session for a technical token or an IMS access token (BearerTokenLogon).

        Call :meth:`prepare_bearer` first: it reads IMS's keys when the token needs them.
        """
        self.zone_of(address)
        self._refresh(io=True)
        token = token.strip()
        login = self._bearer_login(token).login if token else None
        if login is None:
            raise AuthenticationFailed(DENIED, detail="the bearer technical token is not valid")
        return self.open_session(login=login)

    def authenticate(self, credentials: Credentials, *, io: bool = True) -> Caller:
        """Return the caller, checking bearer, then session, then login/password (§3.2)."""
        zone = self.zone_of(credentials.address)
        self._refresh(io=io)
        if credentials.bearer is not None:
            found = self._bearer_login(credentials.bearer)
            if found.client_id is not None and credentials.api_key is not None:
                _check_api_key(credentials.api_key, found.client_id)
            return Caller(
                login=found.login, zone=zone.name, method=found.method, client_id=found.client_id
            )
        login, method = self._login_of(credentials, zone, io=io)
        return Caller(login=login, zone=zone.name, method=method)

    def _bearer_login(self, token: str) -> Caller:
        """Return who a bearer token stands for (zone left empty), or refuse it."""
        login = self._tokens.get(token_digest(token))
        if login is not None:
            return Caller(login=login, zone="", method="bearer")
        if looks_like_jwt(token):
            identity = self.ims.verify(token)
            return Caller(
                login=identity.user_id, zone="", method="ims", client_id=identity.client_id
            )
        raise AuthenticationFailed(DENIED, detail="the bearer technical token is not valid")


def _check_api_key(api_key: str, client_id: str) -> None:
    """Refuse a REST call whose X-Api-Key is not the IMS token's client, as Adobe I/O does."""
    given = api_key.strip()
    if not given:
        raise InvalidApiKey(
            "Api Key is required",
            detail="a REST call with an IMS access token needs X-Api-Key: <the client id>",
            field="X-Api-Key",
        )
    if given != client_id:
        raise InvalidApiKey(
            "Api Key is invalid",
            detail="X-Api-Key must be the client id of the technical account the access "
            "token was issued to",
            field="X-Api-Key",
        )
