"""The virtual clock on mid-sourcing (issue 16 item 4): ``/api/v1/clock`` makes soft-bounce
retries due, ends quarantines and purges old messages without waiting for real, and refuses
other sites' requests and production."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from midsourcing.app import create_app
from midsourcing.delivery import repository
from midsourcing.parts.service import append_delivery_part
from midsourcing.tables import Message
from services.clock import utc_now
from services.db import Database
from services.delivery_protocol import LogStatus
from tests.integration.midsourcing.conftest import MidFactory, mid_settings
from tests.integration.midsourcing.support import append, email, final_logs, part, settle
from tests.support.asgi import serve
from tests.support.smtp import SmtpSink


async def _advance(mid: httpx.AsyncClient, by: str) -> dict[str, object]:
    answer = await mid.post("/api/v1/clock", json={"advance": by})
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_an_hour_long_retry_is_made_when_the_clock_gets_there(make_mid: MidFactory) -> None:
    with SmtpSink(reject={"busy@example.com": 451}) as sink:
        relay = {"smtp_host": sink.host, "smtp_port": sink.port, "max_tries": 3}
        async with make_mid(**relay, retry_seconds=3600, retry_max_seconds=3600) as mid:
            message = email("busy@example.com")
            await append(mid, part(message))
            entry = (await mid.get("/api/v1/quarantine/busy@example.com")).json()
            for _ in range(200):  # the first try's soft bounce is recorded
                if entry.get("status") == "withErrors":
                    break
                entry = (await mid.get("/api/v1/quarantine/busy@example.com")).json()
            assert entry["status"] == "withErrors", entry
            sink.accept("busy@example.com")
            assert (await _advance(mid, "59m"))["offsetSeconds"] == 3540
            assert sink.attempts["busy@example.com"] == 1  # not due yet
            await _advance(mid, "2m")
            assert await settle(mid, 1) == {"sent": 1}
            log = (await final_logs(mid))[message.id]
            assert (log.status, log.tries) == (LogStatus.SENT, 2)
        assert sink.attempts["busy@example.com"] == 2


async def test_a_thirty_day_quarantine_ends_when_the_clock_passes_it(
    make_mid: MidFactory,
) -> None:
    with SmtpSink(reject={"full@example.com": 452}) as sink:
        relay = {"smtp_host": sink.host, "smtp_port": sink.port, "max_tries": 1}
        async with make_mid(**relay) as mid:
            await append(mid, part(email("full@example.com")))
            await settle(mid, 1)
            entry = (await mid.get("/api/v1/quarantine/full@example.com")).json()
            assert entry["status"] == "quarantine"
            sink.accept("full@example.com")
            await _advance(mid, "29d")
            # The clock's housekeeping pass purged the message, older than its 7-day retention.
            assert (await mid.get("/api/v1/messages/counts")).json()["total"] == 0
            held = email("full@example.com")
            await append(mid, part(held))
            await settle(mid, 1)
            assert (await final_logs(mid))[held.id].failure_reason == 9  # still quarantined
            await _advance(mid, "1d 1h")
            gone = await mid.get("/api/v1/quarantine/full@example.com")
            assert gone.status_code == 404  # the clock's housekeeping pass ended it
            freed = email("full@example.com")
            await append(mid, part(freed))
            await settle(mid, 2)
            assert (await final_logs(mid))[freed.id].status is LogStatus.SENT
        assert sink.count("full@example.com") == 1


async def test_another_site_and_production_cannot_move_the_clock(make_mid: MidFactory) -> None:
    async with make_mid() as mid:
        refused = await mid.post(
            "/api/v1/clock", json={"advance": "1h"}, headers={"origin": "https://evil.example"}
        )
        assert refused.status_code == 403
        assert (await mid.get("/api/v1/clock")).json()["offsetSeconds"] == 0
    async with make_mid(environment="production", operators={"mid": "a-long-mid-password"}) as mid:
        answer = await mid.post("/api/v1/clock", json={"advance": "1h"})
        assert answer.status_code == 403
        assert "refused in production" in answer.json()["message"]


async def test_a_message_being_sent_keeps_its_lease_when_the_clock_jumps(tmp_path: Path) -> None:
    """Another server sharing the queue must not take (and send again) a message that a
    worker is still sending because the clock jumped past the end of its lease."""
    settings = mid_settings(tmp_path)
    db = Database(settings.resolved_database_url())
    now = datetime.now(UTC)
    lease_end = now + timedelta(seconds=60)
    try:
        await asyncio.to_thread(db.upgrade, "midsourcing:migrations")
        await asyncio.to_thread(
            append_delivery_part, db=db, part=part(email("ann@example.com")), now=now
        )
        with db.transaction(write=True) as session:  # another server's worker is sending it
            repository.claim(session, worker="other", now=now, lease_until=lease_end, limit=1)
        async with serve(create_app(settings)) as mid:
            await _advance(mid, "1h")
            with db.transaction(write=True) as session:
                row = session.execute(select(Message)).scalar_one()
                assert row.status == "sending"
                assert row.next_attempt_at == lease_end + timedelta(hours=1)
                taken = repository.claim(
                    session, worker="w2", now=utc_now(), lease_until=utc_now(), limit=1
                )
            assert taken == []
    finally:
        db.dispose()
