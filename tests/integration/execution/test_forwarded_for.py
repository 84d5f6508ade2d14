"""Security review F2: X-Forwarded-For cannot pick the throttle's key; F2b, F2c: its counting.

Requests come from 127.0.0.1 (ASGI in-process, or a real loopback socket), like every local
caller and the load balancer itself on one host.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx

from execution_instance.app import create_app
from execution_instance.settings import ExecutionSettings
from services.auth.zones import SecurityZone
from services.forwarding import PROXY_SECRET_HEADER
from tests.integration.execution.conftest import EVENT_TYPES, InstanceFactory, soap
from tests.integration.load_balancer.backends import serve_asgi
from tests.integration.load_balancer.conftest import running_balancer
from tests.support.soap import fault_of, push_event_envelope

PUSH = "nms:rtEvent#PushEvent"
OPERATORS = {"secop": "secop-pass-123", "mc": "mc"}
SECRET = "per-stack-proxy-secret"
LOOPBACK = SecurityZone(
    name="loopback", networks=["127.0.0.0/8", "::1/128"], allow_user_password=True
)


def _outcome(answer: httpx.Response) -> str:
    """Return ``ok``, ``denied`` (password checked and wrong) or ``locked``."""
    if answer.status_code == 200:
        return "ok"
    fault = fault_of(answer.content)
    if fault["faultstring"].startswith("Too many failed logons"):
        return "locked"
    assert "Invalid login or password" in fault["detail"], answer.text
    return "denied"


async def _push(client: httpx.AsyncClient, token: str, **headers: str) -> str:
    envelope = push_event_envelope(token=token)
    return _outcome(await soap(client, envelope, action=PUSH, **headers))


async def test_rotating_forwarded_for_from_a_local_caller_is_ignored_by_default(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(operators=OPERATORS) as client:
        outcomes = [
            await _push(client, f"secop/wrong-x{n}", **{"x-forwarded-for": f"127.0.0.{n}"})
            for n in range(10, 40)
        ]
        assert outcomes == ["denied"] * 5 + ["locked"] * 25
        fresh = {"x-forwarded-for": "127.0.0.99"}
        assert await _push(client, "secop/secop-pass-123", **fresh) == "locked"
        assert await _push(client, "secop/secop-pass-123") == "locked"


async def test_with_a_proxy_secret_only_the_balancer_is_believed(
    make_instance: InstanceFactory,
) -> None:
    office = SecurityZone(name="office", networks=["192.0.2.0/24"], allow_user_password=True)
    async with make_instance(
        operators=OPERATORS, security_zones=[LOOPBACK, office], proxy_secret=SECRET
    ) as client:
        # A local caller without the secret: its X-Forwarded-For is ignored.
        outcomes = [
            await _push(client, f"secop/wrong-{n}", **{"x-forwarded-for": f"192.0.2.{n}"})
            for n in range(10)
        ]
        assert outcomes == ["denied"] * 5 + ["locked"] * 5
        # The balancer (it holds the secret): the hop it appended is the caller, and that
        # caller is throttled apart from 127.0.0.1.
        proof = {PROXY_SECRET_HEADER: SECRET}
        via_lb = {**proof, "x-forwarded-for": "127.0.0.1, 192.0.2.7"}
        assert await _push(client, "secop/secop-pass-123", **via_lb) == "ok"
        # What a caller wrote before the balancer's hop is not believed.
        spoofed = {**proof, "x-forwarded-for": "192.0.2.8, 127.0.0.1"}
        assert await _push(client, "secop/secop-pass-123", **spoofed) == "locked"
        wrong_proof = {PROXY_SECRET_HEADER: "guess", "x-forwarded-for": "192.0.2.9"}
        assert await _push(client, "secop/secop-pass-123", **wrong_proof) == "locked"


async def test_rotating_forwarded_for_through_the_load_balancer_is_locked(
    tmp_path: Path,
) -> None:
    settings = ExecutionSettings(
        data_dir=tmp_path,
        event_types=EVENT_TYPES,
        workers=0,
        operators=OPERATORS,
        security_zones=[LOOPBACK],
        proxy_secret=SECRET,
    )
    with (
        serve_asgi(create_app(settings)) as backend,
        running_balancer([backend], proxy_secret=SECRET) as lb,
    ):
        async with httpx.AsyncClient(base_url=lb.url, timeout=10, trust_env=False) as client:
            await _through_the_balancer(client)


async def _through_the_balancer(client: httpx.AsyncClient) -> None:
    outcomes = [
        await _push(client, f"secop/wrong-x{n}", **{"x-forwarded-for": f"127.0.1.{n}"})
        for n in range(30)
    ]
    assert outcomes == ["denied"] * 5 + ["locked"] * 25
    fresh = {"x-forwarded-for": "127.0.1.200"}
    assert await _push(client, "secop/secop-pass-123", **fresh) == "locked"
    # A foreign address in X-Forwarded-For no longer makes the caller foreign either.
    assert await _push(client, "mc/mc", **{"x-forwarded-for": "8.8.8.8"}) == "ok"


async def test_successes_of_another_client_do_not_reset_the_count(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(operators=OPERATORS) as client:
        outcomes = []
        for n in range(5):
            assert await _push(client, "secop/secop-pass-123") == "ok"  # the busy client
            outcomes.append(await _push(client, f"secop/wrong-{n}"))  # the attacker
        assert outcomes == ["denied"] * 5
        assert await _push(client, "secop/wrong-5") == "locked"
        # The price of a per-address lockout: the client sharing the address waits too.
        assert await _push(client, "secop/secop-pass-123") == "locked"


async def test_concurrent_wrong_passwords_are_checked_at_most_the_limit(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(operators=OPERATORS) as client:
        outcomes = await asyncio.gather(*(_push(client, f"secop/wrong-{n}") for n in range(40)))
    counts = Counter(outcomes)
    assert counts["denied"] <= 5
    assert counts["denied"] + counts["locked"] == 40
