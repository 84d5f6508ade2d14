"""The execution instance's check of IMS access tokens, against a key set served by a mock IMS."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from execution_instance.security.ims import ImsVerifier
from services.clock import clock
from services.errors import AuthenticationFailed, SessionExpired, UpstreamUnavailable

PROFILE = "campaign - mcsim - messagecenter"


class Ims:
    """A key set that can gain keys or fail, and counts its readers."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.reads = 0
        self.down = False

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def token(self, kid: str, *, ttl: int = 60, **claims: Any) -> str:
        now = int(time.time())
        body = {
            "type": "access_token",
            "client_id": "shop",
            "user_id": "ABC@techacct.adobe.com",
            "product_profiles": [PROFILE],
            "iat": now,
            "exp": now + ttl,
            **claims,
        }
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.reads += 1
        if self.down:
            return httpx.Response(503)
        keys = []
        for kid, key in self.keys.items():
            public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**public, "kid": kid, "alg": "RS256", "use": "sig"})
        return httpx.Response(200, json={"keys": keys})


@pytest.fixture
async def ims() -> Ims:
    served = Ims()
    served.add_key("key-1")
    return served


class Ticks:
    """A monotonic clock the test moves: the key set's age, with no sleep (nor a load that
    makes the sleeps too short)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


def verifier(
    ims: Ims, http: httpx.AsyncClient, ticks: Ticks, refetch: float = 0.2, **options: float
) -> ImsVerifier:
    return ImsVerifier(
        http,
        ims_url="http://ims.test",
        campaign_instance="mcsim",
        refetch_seconds=refetch,
        monotonic=ticks,
        **options,
    )


async def test_a_new_signing_key_is_read_once_the_set_is_old_enough(ims: Ims, ticks: Ticks) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(ims.handler)) as http:
        check = verifier(ims, http, ticks)
        first = ims.token("key-1")
        await check.prepare(first)
        assert check.verify(first).client_id == "shop"
        await check.prepare(first)  # a known key: no read
        assert ims.reads == 1
        ims.add_key("key-2")  # IMS rotates its key
        second = ims.token("key-2")
        await check.prepare(second)  # the set was read a moment ago: not again yet
        with pytest.raises(AuthenticationFailed, match="Invalid login"):
            check.verify(second)
        ticks.advance(0.25)
        await check.prepare(second)
        assert ims.reads == 2
        assert check.verify(second).user_id == "ABC@techacct.adobe.com"


async def test_concurrent_first_tokens_read_the_keys_once(ims: Ims, ticks: Ticks) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(ims.handler)) as http:
        check = verifier(ims, http, ticks, refetch=60)
        token = ims.token("key-1")
        await asyncio.gather(*(check.prepare(token) for _ in range(20)))
        assert ims.reads == 1


async def test_an_unreachable_ims_is_retried_and_reported_as_such(ims: Ims, ticks: Ticks) -> None:
    ims.down = True
    async with httpx.AsyncClient(transport=httpx.MockTransport(ims.handler)) as http:
        check = verifier(ims, http, ticks, refetch=0.1)
        token = ims.token("key-1")
        await check.prepare(token)
        with pytest.raises(UpstreamUnavailable, match="cannot read the IMS signing keys"):
            check.verify(token)
        ims.down = False
        ticks.advance(0.15)
        await check.prepare(token)
        assert check.verify(token).client_id == "shop"


async def test_expiry_type_and_profile_are_checked_even_for_a_remembered_token(
    ims: Ims, ticks: Ticks
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(ims.handler)) as http:
        check = verifier(ims, http, ticks)
        short = ims.token("key-1", ttl=60)
        await check.prepare(short)
        check.verify(short)  # remembered from now on
        clock.apply(timedelta(seconds=61))  # the stack's clock passes its expiry
        with pytest.raises(SessionExpired, match="Session has expired"):
            check.verify(short)
        clock.apply(timedelta(0))
        for token, reason in (
            (ims.token("key-1", product_profiles=[]), "no Message Center access"),
            (ims.token("key-1", type="refresh_token"), "not an access_token"),
            (ims.token("key-1", ttl=-5), "expired"),
        ):
            with pytest.raises(AuthenticationFailed) as refused:
                check.verify(token)
            assert reason in (refused.value.detail or "")
        with pytest.raises(AuthenticationFailed, match="Invalid login"):
            check.verify("eyJ.not.a-token")


async def test_a_retired_key_stops_opening_once_the_set_is_read_again(
    ims: Ims, ticks: Ticks
) -> None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(ims.handler)) as http:
        check = verifier(ims, http, ticks, refetch=60, max_age_seconds=0.2)
        old = ims.token("key-1")
        await check.prepare(old)
        check.verify(old)
        ims.add_key("key-2")
        del ims.keys["key-1"]  # the admin retires the old key
        await check.prepare(old)
        check.verify(old)  # the set is still fresh: remembered
        ticks.advance(0.25)
        await check.prepare(old)  # the set is old: read again
        assert ims.reads == 2
        with pytest.raises(AuthenticationFailed) as refused:
            check.verify(old)
        assert "does not publish" in (refused.value.detail or "")
        new = ims.token("key-2")
        await check.prepare(new)
        assert check.verify(new).client_id == "shop"
