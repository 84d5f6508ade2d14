"""Every magic recipient of DESIGN §5 ends with its documented log, in capture and SMTP mode."""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest

from services.delivery_protocol import DeliveryMessage, FailureType, LogStatus
from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import (
    append,
    email,
    final_logs,
    message_of,
    part,
    pull_logs,
    push,
    settle,
    sms,
)
from tests.support.smtp import SmtpSink

MAX_TRIES = 3


def magic_messages() -> dict[str, DeliveryMessage]:
    return {
        "hard": email("ann+hard@example.com"),
        "soft": email("ann+soft@example.com"),
        "softonce": email("ann+softonce@example.com"),
        "delay": email("ann+delay=1s@example.com"),
        "invalid": email("ann@nowhere.invalid"),
        "sms": sms("+447700900000"),
        "ios": push("invalid-device-token", channel="ios"),
        "android": push("invalidAndroidToken", channel="android"),
        "plain": email("ann@example.com"),
        "plain-sms": sms("+447700900123"),
        "plain-push": push("f00dcafe", channel="android"),
    }


#: name → (final status, failure type, reason, tries)
EXPECTED = {
    "hard": (LogStatus.FAILED, FailureType.HARD, 1, 1),
    "soft": (LogStatus.FAILED, FailureType.SOFT, 5, MAX_TRIES),
    "softonce": (LogStatus.SENT, FailureType.NONE, 0, 2),
    "delay": (LogStatus.SENT, FailureType.NONE, 0, 1),
    "invalid": (LogStatus.FAILED, FailureType.SOFT, 2, MAX_TRIES),
    "sms": (LogStatus.FAILED, FailureType.SOFT, 3, MAX_TRIES),
    "ios": (LogStatus.FAILED, FailureType.HARD, 1, 1),
    "android": (LogStatus.FAILED, FailureType.HARD, 1, 1),
    "plain": (LogStatus.SENT, FailureType.NONE, 0, 1),
    "plain-sms": (LogStatus.SENT, FailureType.NONE, 0, 1),
    "plain-push": (LogStatus.SENT, FailureType.NONE, 0, 1),
}


async def _check_outcomes(mid: httpx.AsyncClient) -> dict[str, DeliveryMessage]:
    messages = magic_messages()
    started = time.monotonic()
    await append(mid, part(*messages.values()))
    await settle(mid, len(messages))
    logs = await final_logs(mid, instance=1)
    outcomes = {
        name: (
            logs[m.id].status,
            logs[m.id].failure_type,
            logs[m.id].failure_reason,
            logs[m.id].tries,
        )
        for name, m in messages.items()
    }
    assert outcomes == EXPECTED

    everything, _ = await pull_logs(mid)
    pending = [log for log in everything if log.status is LogStatus.PENDING]
    pending_by_id = {log.message_id for log in pending}
    assert pending_by_id == {messages[n].id for n in ("soft", "softonce", "invalid", "sms")}
    assert sum(1 for log in pending if log.message_id == messages["soft"].id) == MAX_TRIES - 1

    delayed = await message_of(mid, messages["delay"].id)
    accepted = datetime.fromisoformat(delayed["createdAt"])
    finished = datetime.fromisoformat(delayed["finishedAt"])
    assert (finished - accepted).total_seconds() >= 1.0
    assert time.monotonic() - started >= 1.0

    quarantined = (await mid.get("/api/v1/quarantine", params={"status": "quarantine"})).json()
    assert sorted(a["address"] for a in quarantined["addresses"]) == sorted(
        messages[n].to for n in ("hard", "soft", "invalid", "sms", "ios", "android")
    )
    return messages


async def test_magic_recipients_in_capture_mode(make_mid: MidFactory) -> None:
    async with make_mid(max_tries=MAX_TRIES) as mid:
        await _check_outcomes(mid)


async def test_magic_recipients_win_over_the_smtp_relay(make_mid: MidFactory) -> None:
    with SmtpSink() as sink:
        async with make_mid(max_tries=MAX_TRIES, smtp_host=sink.host, smtp_port=sink.port) as mid:
            messages = await _check_outcomes(mid)
        # Only the deliverable emails reached the relay, once each; failures never left mcsim.
        assert sorted(r for m in sink.received for r in m.rcpt_tos) == sorted(
            messages[n].to for n in ("softonce", "delay", "plain")
        )
        assert sink.attempts[messages["softonce"].to] == 1


@pytest.mark.parametrize(
    ("recipient", "channel"), [("ann+hard@example.com", "email"), ("invalid-x", "ios")]
)
async def test_a_quarantined_magic_recipient_is_ignored_the_second_time(
    mid: httpx.AsyncClient, recipient: str, channel: str
) -> None:
    first = email(recipient) if channel == "email" else push(recipient, channel=channel)
    await append(mid, part(first))
    await settle(mid, 1)
    second = email(recipient) if channel == "email" else push(recipient, channel=channel)
    await append(mid, part(second))
    await settle(mid, 2)
    logs = await final_logs(mid)
    assert (logs[second.id].status, logs[second.id].failure_reason) == (LogStatus.IGNORED, 9)
