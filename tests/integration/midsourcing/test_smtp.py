"""Email over real SMTP (an aiosmtpd relay on loopback): delivery, bounces, quarantine, release."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiosmtplib.email import quote_address

from services.delivery_protocol import FailureType, LogStatus
from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import (
    append,
    email,
    final_logs,
    message_of,
    part,
    settle,
)
from tests.support.smtp import SmtpSink, free_port


async def test_an_accepted_email_arrives_whole_and_its_raw_source_matches(
    make_mid: MidFactory,
) -> None:
    with SmtpSink() as sink:
        async with make_mid(smtp_host=sink.host, smtp_port=sink.port) as mid:
            message = email(
                "zoe.tester@example.com",
                subject="Votre commande — n° 42",
                from_name="Boutique Élan",
                text="Bonjour Zoé\n",
                html="<p>Bonjour <b>Zoé</b></p>",
            )
            await append(mid, part(message))
            assert await settle(mid, 1) == {"sent": 1}
            logs = await final_logs(mid)
            assert logs[message.id].text.startswith("250 2.0.0 Ok: queued as sink-")
            captured = await message_of(mid, message.id)
            raw = await mid.get(f"/api/v1/messages/{captured['id']}/raw")
        (received,) = sink.received
        assert received.rcpt_tos == ["zoe.tester@example.com"]
        assert received.mail_from == "noreply@acme.test"
        # What the relay received is byte for byte what the API shows.
        assert received.data.replace(b"\r\n", b"\n") == raw.content.replace(b"\r\n", b"\n")
        parsed = received.message
        assert parsed["Subject"] == "Votre commande — n° 42"
        assert parsed["From"].addresses[0].display_name == "Boutique Élan"
        assert parsed["X-Mcsim-Message-Id"] == message.id
        assert parsed["X-Mcsim-Event-Id"] == str(message.event_id)
        assert parsed["X-Mcsim-Event-Type"] == "PASSWORD_RESET"
        assert parsed["Message-ID"] == f"<mcsim.{message.id}@mcsim.local>"
        assert parsed.get_content_type() == "multipart/alternative"
        assert {h["name"] for h in captured["headers"]} >= {"Message-ID", "Date", "From", "To"}


async def test_one_connection_carries_plain_and_quoted_addresses_and_survives_a_refusal(
    make_mid: MidFactory,
) -> None:
    # Plain addresses are written directly, the others through aiosmtplib's mail() and rcpt();
    # both must reach the relay as aiosmtplib would send them, on one reused connection.
    recipients = ["ann@example.com", '"ann.quoted"@example.com', "gone@example.com"]
    recipients += [f"user{n}@example.com" for n in range(5)]
    senders = ["noreply@acme.test", '"sales.team"@acme.test']
    messages = [
        email(to, from_address=senders[n % 2], reply_to="") for n, to in enumerate(recipients)
    ]
    with SmtpSink(reject={"gone@example.com": 550}) as sink:
        async with make_mid(smtp_host=sink.host, smtp_port=sink.port, smtp_connections=1) as mid:
            await append(mid, part(*messages))
            assert await settle(mid, len(messages)) == {"sent": 7, "failed": 1}
            logs = await final_logs(mid)
        assert logs[messages[2].id].failure_reason == 1  # User unknown
        received = {m.rcpt_tos[0]: m.mail_from for m in sink.received}
        # aiosmtpd reports a quoted local part without its quotes
        expected = {
            _unquoted(m.to): _unquoted(m.from_address)
            for m in messages
            if m.to != "gone@example.com"
        }
        assert received == expected
        assert len(sink.received) == 7


def _unquoted(address: str) -> str:
    return quote_address(address)[1:-1].replace('"', "")


async def test_550_is_a_hard_bounce_that_quarantines_and_then_ignores_until_release(
    make_mid: MidFactory,
) -> None:
    with SmtpSink(reject={"gone@example.com": 550}) as sink:
        async with make_mid(smtp_host=sink.host, smtp_port=sink.port) as mid:
            first = email("gone@example.com")
            await append(mid, part(first))
            assert await settle(mid, 1) == {"failed": 1}
            log = (await final_logs(mid))[first.id]
            assert (log.status, log.failure_type, log.failure_reason, log.tries) == (
                LogStatus.FAILED,
                FailureType.HARD,
                1,
                1,
            )
            assert log.text.startswith("550 5.1.1")
            entry = (await mid.get("/api/v1/quarantine/gone@example.com")).json()
            assert (entry["status"], entry["failureReason"], entry["expiresAt"]) == (
                "quarantine",
                1,
                None,
            )

            second = email("GONE@example.com")  # the same address, whatever its case
            await append(mid, part(second))
            await settle(mid, 2)
            log = (await final_logs(mid))[second.id]
            assert (log.status, log.failure_reason) == (LogStatus.IGNORED, 9)
            assert "Address in quarantine" in log.text
            assert sink.attempts["gone@example.com"] == 1  # nothing was sent the second time

            sink.accept("gone@example.com")
            released = await mid.delete("/api/v1/quarantine/gone@example.com")
            assert released.status_code == 204
            assert (await mid.get("/api/v1/quarantine/gone@example.com")).status_code == 404
            third = email("gone@example.com")
            await append(mid, part(third))
            await settle(mid, 3)
            assert (await final_logs(mid))[third.id].status is LogStatus.SENT
        assert sink.count("gone@example.com") == 1


async def test_452_soft_bounces_are_retried_then_failed_and_quarantined_for_30_days(
    make_mid: MidFactory,
) -> None:
    with SmtpSink(reject={"full@example.com": 452}) as sink:
        async with make_mid(smtp_host=sink.host, smtp_port=sink.port, max_tries=4) as mid:
            message = email("full@example.com")
            before = datetime.now(UTC)
            await append(mid, part(message))
            assert await settle(mid, 1) == {"failed": 1}
            log = (await final_logs(mid))[message.id]
            assert (log.status, log.failure_type, log.failure_reason, log.tries) == (
                LogStatus.FAILED,
                FailureType.SOFT,
                5,
                4,
            )
            entry = (await mid.get("/api/v1/quarantine/full@example.com")).json()
            assert entry["status"] == "quarantine"
            assert entry["errorCount"] == 4
            expires = datetime.fromisoformat(entry["expiresAt"])
            assert before + timedelta(days=30) <= expires <= datetime.now(UTC) + timedelta(days=30)

            again = email("full@example.com")
            await append(mid, part(again))
            await settle(mid, 2)
            assert (await final_logs(mid))[again.id].failure_reason == 9
        assert sink.attempts["full@example.com"] == 4
        assert sink.count() == 0


async def test_a_soft_bounce_then_a_success_clears_the_address(make_mid: MidFactory) -> None:
    with SmtpSink(reject={"busy@example.com": 451}) as sink:
        async with make_mid(smtp_host=sink.host, smtp_port=sink.port, max_tries=50) as mid:
            message = email("busy@example.com")
            await append(mid, part(message))
            await sink_attempts(sink, "busy@example.com", 2)
            entry = (await mid.get("/api/v1/quarantine/busy@example.com")).json()
            assert entry["status"] == "withErrors"
            assert entry["failureReason"] == 3
            sink.accept("busy@example.com")
            await settle(mid, 1)
            log = (await final_logs(mid))[message.id]
            assert log.status is LogStatus.SENT and log.tries >= 3
            assert (await mid.get("/api/v1/quarantine/busy@example.com")).status_code == 404


async def sink_attempts(sink: SmtpSink, address: str, count: int) -> None:
    for _ in range(500):
        if sink.attempts[address] >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{address} was tried {sink.attempts[address]} times")


async def test_an_unreachable_relay_fails_softly_without_quarantining(
    make_mid: MidFactory,
) -> None:
    async with make_mid(smtp_host="127.0.0.1", smtp_port=free_port(), max_tries=2) as mid:
        message = email("ann@example.com")
        await append(mid, part(message))
        assert await settle(mid, 1) == {"failed": 1}
        log = (await final_logs(mid))[message.id]
        assert (log.failure_type, log.failure_reason, log.tries) == (FailureType.SOFT, 3, 2)
        assert log.text.startswith("Unreachable")
        assert (await mid.get("/api/v1/quarantine")).json()["total"] == 0


async def test_starttls_and_smtp_auth_with_the_configured_credentials(
    make_mid: MidFactory,
) -> None:
    with SmtpSink(auth=("relay-user", "relay-pass")) as sink:
        relay = {
            "smtp_host": sink.host,
            "smtp_port": sink.port,
            "smtp_starttls": True,
            "smtp_tls_verify": False,  # the sink's certificate is self-signed
        }
        async with make_mid(**relay, max_tries=1) as mid:  # no credentials: refused
            message = email("nobody@example.com")
            await append(mid, part(message))
            assert await settle(mid, 1) == {"failed": 1}
        async with make_mid(**relay, smtp_username="relay-user", smtp_password="relay-pass") as mid:
            await append(mid, part(email("ann@example.com")))
            assert await settle(mid, 2) == {"sent": 1, "failed": 1}
        assert sink.count("ann@example.com") == 1
        assert sink.count() == 1
        async with make_mid(
            **relay, smtp_username="relay-user", smtp_password="wrong", max_tries=1
        ) as mid:
            message = email("bob@example.com")
            await append(mid, part(message))  # same data directory: 2 messages are there too
            assert await settle(mid, 3) == {"sent": 1, "failed": 2}
            log = (await final_logs(mid))[message.id]
            assert log.failure_reason == 3 and "535" in log.text
            assert (await mid.get("/api/v1/quarantine")).json()["total"] == 0


async def test_a_soft_quarantine_ends_by_itself_at_its_expiry(make_mid: MidFactory) -> None:
    with SmtpSink(reject={"late@example.com": 451}) as sink:
        # 2e-5 days: the quarantine ends 1.7 s after the last soft bounce.
        async with make_mid(
            smtp_host=sink.host, smtp_port=sink.port, max_tries=1, quarantine_soft_days=2e-5
        ) as mid:
            await append(mid, part(email("late@example.com")))
            await settle(mid, 1)
            blocked = email("late@example.com")
            await append(mid, part(blocked))
            await settle(mid, 2)
            assert (await final_logs(mid))[blocked.id].failure_reason == 9
            sink.accept("late@example.com")
            await asyncio.sleep(1.8)
            freed = email("late@example.com")
            await append(mid, part(freed))
            await settle(mid, 3)
            assert (await final_logs(mid))[freed.id].status is LogStatus.SENT
        assert sink.count("late@example.com") == 1
