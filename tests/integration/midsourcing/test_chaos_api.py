"""The chaos API: inject failures and latency per channel, read and reset them."""

from __future__ import annotations

import time

import httpx

from services.delivery_protocol import FailureType, LogStatus
from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import (
    append,
    email,
    final_logs,
    message_of,
    part,
    settle,
    sms,
)


async def test_no_chaos_until_configured_then_reset(mid: httpx.AsyncClient) -> None:
    assert (await mid.get("/api/v1/chaos")).json() == {"channels": {}, "seed": None}
    config = {"channels": {"sms": {"probability": 1, "failureReason": 5}}, "seed": 3}
    put = await mid.put("/api/v1/chaos", json=config)
    assert put.status_code == 200
    assert put.json() == {
        "channels": {
            "sms": {"probability": 1.0, "failureReason": 5, "failureType": None, "latencyMs": 0}
        },
        "seed": 3,
    }
    assert (await mid.get("/api/v1/chaos")).json() == put.json()
    assert (await mid.delete("/api/v1/chaos")).json() == {"channels": {}, "seed": None}


async def test_chaos_fails_its_channel_only_and_stops_when_deleted(make_mid: MidFactory) -> None:
    async with make_mid(max_tries=2) as mid:
        await mid.put("/api/v1/chaos/sms", json={"probability": 1, "failureReason": 1})  # 1: hard
        failing, fine = sms("+447700900123"), email("ann@example.com")
        await append(mid, part(failing, fine))
        await settle(mid, 2)
        logs = await final_logs(mid)
        assert (logs[failing.id].status, logs[failing.id].failure_type) == (
            LogStatus.FAILED,
            FailureType.HARD,
        )
        assert logs[failing.id].failure_reason == 1
        assert "chaos" in logs[failing.id].text
        assert logs[fine.id].status is LogStatus.SENT
        # Chaos failures count as the recipient's: the number is quarantined.
        await mid.delete("/api/v1/quarantine")

        await mid.put("/api/v1/chaos/sms", json={"probability": 1, "failureReason": 3})
        soft = sms("+447700900124")
        await append(mid, part(soft))
        await settle(mid, 3)
        log = (await final_logs(mid))[soft.id]
        assert (log.failure_type, log.failure_reason, log.tries) == (FailureType.SOFT, 3, 2)

        deleted = await mid.delete("/api/v1/chaos/sms")
        assert deleted.json()["channels"] == {}
        after = sms("+447700900125")
        await append(mid, part(after))
        await settle(mid, 4)
        assert (await final_logs(mid))[after.id].status is LogStatus.SENT


async def test_latency_delays_each_try(mid: httpx.AsyncClient) -> None:
    await mid.put("/api/v1/chaos/email", json={"latencyMs": 400})
    message = email("slow@example.com")
    started = time.monotonic()
    await append(mid, part(message))
    await settle(mid, 1)
    assert time.monotonic() - started >= 0.4
    assert (await message_of(mid, message.id))["status"] == "sent"


async def test_invalid_chaos_is_refused_and_changes_nothing(mid: httpx.AsyncClient) -> None:
    await mid.put("/api/v1/chaos/email", json={"probability": 0.5})
    before = (await mid.get("/api/v1/chaos")).json()
    for path, body in [
        ("/api/v1/chaos", {"channels": {"fax": {"probability": 1}}}),
        ("/api/v1/chaos", {"channels": {"sms": {"failureReason": 9}}}),
        ("/api/v1/chaos/email", {"probability": 2}),
        ("/api/v1/chaos/fax", {"probability": 1}),
    ]:
        response = await mid.put(path, json=body)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"] == "invalid_request"
    assert (await mid.get("/api/v1/chaos")).json() == before
