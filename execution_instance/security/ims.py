"""Verify Adobe IMS access tokens locally, with the keys the IMS emulator publishes.

The keys are read from ``<ims_url>/ims/keys`` (the control instance) at the first token, again
when a token names a key not seen yet (at most once every few seconds), and once the set is five
minutes old (so a key the admin retired stops opening the intake), through the instance's
injected HTTP client: no request costs a call to the control instance. A verified token is
remembered until it expires or its key leaves the set, so its signature is checked once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from services.auth.ims import JWKS_PATH, PROFILES_CLAIM, message_center_profile
from services.auth.security import DENIED, EXPIRED
from services.clock import unix_time
from services.errors import AuthenticationFailed, SessionExpired, UpstreamUnavailable

__all__ = ["ImsIdentity", "ImsVerifier"]

log = logging.getLogger("mcsim.ims")

_REFETCH_SECONDS = 5.0  # an unknown key id re-reads the key set at most this often
_MAX_AGE_SECONDS = 300.0  # the key set is read again once it is this old
_RETRY_SECONDS = 1.0  # after a failed read
_MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class ImsIdentity:
    """Who an IMS access token stands for."""

    client_id: str
    user_id: str
    expires_at: float  # epoch seconds


class ImsVerifier:
    """Check IMS access tokens: signature, expiry, type and the Message Center profile."""

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        ims_url: str | None,
        campaign_instance: str,
        refetch_seconds: float = _REFETCH_SECONDS,
        max_age_seconds: float = _MAX_AGE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        #: Measures the key set's age (tests give a clock they move).
        self._monotonic = monotonic
        self.refetch_seconds = refetch_seconds
        self.max_age_seconds = max_age_seconds
        self.keys_url = ims_url.rstrip("/") + JWKS_PATH if ims_url else None
        self.profile = message_center_profile(campaign_instance)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._read_at = -1e9
        self._failure: str | None = None
        self._lock = asyncio.Lock()
        self._verified: dict[str, tuple[str, ImsIdentity]] = {}  # token -> its kid, identity

    # -- the keys ---------------------------------------------------------------------------
    async def prepare(self, token: str) -> None:
        """Read the key set if ``token`` names a key not known yet, or the set is old (cheap
        otherwise)."""
        if self.keys_url is None or self.http is None:
            return
        kid = _kid(token)
        if kid is None or (kid in self._keys and not self._stale()):
            return
        async with self._lock:
            if kid in self._keys and not self._stale():
                return  # read meanwhile
            wait = self.refetch_seconds
            if self._failure:
                wait = min(_RETRY_SECONDS, wait)
            if kid not in self._keys and self._monotonic() - self._read_at < wait:
                return
            await self._read_keys()

    def _stale(self) -> bool:
        return self._monotonic() - self._read_at >= self.max_age_seconds

    async def _read_keys(self) -> None:
        assert self.keys_url is not None
        assert self.http is not None
        self._read_at = self._monotonic()
        try:
            answer = await self.http.get(self.keys_url, timeout=5.0)
            answer.raise_for_status()
            key_set = jwt.PyJWKSet.from_dict(answer.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            self._failure = f"{type(exc).__name__}: {exc}"
            log.warning("cannot read the IMS signing keys", extra={"url": self.keys_url})
            return
        self._failure = None
        keys = {key.key_id: key for key in key_set.keys if key.key_id}
        if not set(self._keys) <= set(keys):  # a key was retired: forget what it verified
            self._verified = {t: v for t, v in self._verified.items() if v[0] in keys}
        self._keys = keys

    # -- the check --------------------------------------------------------------------------
    def verify(self, token: str) -> ImsIdentity:
        """Return who ``token`` stands for, or raise as Campaign refuses a bad credential."""
        now = unix_time()
        known = self._verified.get(token)
        if known is not None:
            if known[1].expires_at <= now:
                raise _expired(known[1].expires_at)
            return known[1]
        kid, identity = self._check(token, now)
        if len(self._verified) >= _MAX_REMEMBERED:
            self._verified.clear()
        self._verified[token] = (kid, identity)
        return identity

    def _check(self, token: str, now: float) -> tuple[str, ImsIdentity]:
        if self.keys_url is None:
            raise AuthenticationFailed(
                DENIED,
                detail="this execution instance does not accept IMS access tokens: set "
                "MCSIM_EXEC_IMS_URL to the IMS emulator (the control instance)",
            )
        kid = _kid(token)
        if kid is None:
            raise AuthenticationFailed(
                DENIED, detail="the bearer token is neither a technical token nor an IMS token"
            )
        key = self._keys.get(kid)
        if key is None:
            if self._failure is not None:
                raise UpstreamUnavailable(
                    "cannot read the IMS signing keys",
                    detail=f"{self.keys_url}: {self._failure}",
                )
            raise AuthenticationFailed(
                DENIED,
                detail=f"the IMS access token is signed by a key ({kid}) that IMS does not "
                f"publish at {self.keys_url}",
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                options={"require": ["exp", "client_id", "user_id", "type"], "verify_exp": False},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed(
                DENIED, detail=f"the IMS access token is not valid: {exc}"
            ) from None
        expires_at = float(claims["exp"])
        if expires_at <= now:
            raise _expired(expires_at)
        if claims["type"] != "access_token":
            raise AuthenticationFailed(
                DENIED, detail=f"the IMS token is a {claims['type']}, not an access_token"
            )
        profiles = claims.get(PROFILES_CLAIM) or []
        if self.profile not in profiles:
            raise AuthenticationFailed(
                DENIED,
                detail=f"the technical account {claims['user_id']} (client {claims['client_id']}) "
                f"has no Message Center access: add the product profile {self.profile!r} to it "
                "(then ask IMS for a new token)",
            )
        return kid, ImsIdentity(
            client_id=str(claims["client_id"]),
            user_id=str(claims["user_id"]),
            expires_at=expires_at,
        )


def _kid(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    return kid if isinstance(kid, str) and kid else None


def _expired(expires_at: float) -> SessionExpired:
    when = datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="seconds")
    return SessionExpired(
        EXPIRED,
        detail=f"the IMS access token expired at {when}: ask IMS (POST /ims/token/v3) for a "
        "new one",
    )
