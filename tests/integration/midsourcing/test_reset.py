"""Reset between tests (issue 16 item 5): messages, delivery logs, quarantine and chaos go; a
message being sent when the reset comes leaves no trace; a part sent again is still not
delivered twice; production and other sites are refused."""

from __future__ import annotations

import asyncio

import httpx

from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import append, email, part, pull_logs, settle


async def _counts(mid: httpx.AsyncClient) -> dict[str, int]:
    counts: dict[str, int] = (await mid.get("/api/v1/messages/counts")).json()["byStatus"]
    return counts


async def test_reset_forgets_messages_logs_quarantine_and_chaos(make_mid_on: MidFactory) -> None:
    async with make_mid_on() as mid:
        first = part(email("ann@example.com"), email("bob+hard@example.com"))
        await append(mid, first)
        await settle(mid, 2)
        chaos = await mid.put("/api/v1/chaos/sms", json={"probability": 1, "failureReason": 3})
        assert chaos.status_code == 200
        # One message is still being sent when the reset comes.
        await append(mid, part(email("cat+delay=1s@example.com")))
        assert (await mid.get("/api/v1/quarantine")).json()["total"] == 1

        answer = await mid.post("/api/v1/reset")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "messages": 3,
            "deliveryLogs": 2,
            "addresses": 1,
            "chaosChannels": 1,
        }

        await asyncio.sleep(1.3)  # the delayed try ends: it records nothing
        assert await _counts(mid) == {}
        assert (await mid.get("/api/v1/quarantine")).json()["total"] == 0
        assert (await mid.get("/api/v1/chaos")).json()["channels"] == {}
        logs, _ = await pull_logs(mid)
        assert logs == []

        # The ids it accepted are remembered: the same part again delivers nothing twice.
        await append(mid, first)
        fresh = part(email("bob+hard@example.com"))
        await append(mid, fresh)
        await settle(mid, 1)
        page = (await mid.get("/api/v1/messages")).json()
        assert [m["to"] for m in page["messages"]] == ["bob+hard@example.com"]
        assert page["messages"][0]["status"] == "failed"  # no longer in quarantine: sent, bounced


async def test_reset_is_refused_in_production_and_from_another_site(
    make_mid: MidFactory,
) -> None:
    async with make_mid() as mid:
        await append(mid, part(email("ann@example.com")))
        await settle(mid, 1)
        other_site = await mid.post("/api/v1/reset", headers={"origin": "https://evil.example"})
        assert other_site.status_code == 403
        fetched = await mid.post("/api/v1/reset", headers={"sec-fetch-site": "cross-site"})
        assert fetched.status_code == 403
        assert (await _counts(mid)) == {"sent": 1}
    async with make_mid(
        environment="production", operators={"mid": "a-long-production-password"}
    ) as mid:
        answer = await mid.post("/api/v1/reset")
        assert answer.status_code == 403
        assert "refused in production" in answer.json()["message"]
