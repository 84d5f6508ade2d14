"""The captured-messages API: search, paging, one message, raw source, delete, counts, retention."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx

from midsourcing.housekeeping import Retention, run_housekeeping
from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import (
    append,
    message_of,
    part,
    push,
    settle,
    sms,
)
from tests.integration.midsourcing.support import (
    email as email_message,
)


async def _fill(mid: httpx.AsyncClient) -> None:
    await append(
        mid,
        part(
            email_message("ann@example.com", subject="Reset your password"),
            email_message("bob@example.com", subject="Your order 42", event_type="ORDER"),
            email_message("cid+hard@example.com", subject="Welcome", event_type="WELCOME"),
            email_message(
                "seed@acme.test",
                subject="[Proof] Your order",
                event_type="ORDER",
                proof=True,
                event_id=0,
                id="proof-7",
            ),
            sms("+447700900123"),
            push("f00d", channel="ios", title="Shipped 100%_done"),
            push("cafe", channel="android"),
        ),
    )
    await settle(mid, 7)


async def test_search_by_each_criterion(mid: httpx.AsyncClient) -> None:
    await _fill(mid)

    async def found(**params: str | int) -> list[str]:
        response = await mid.get("/api/v1/messages", params=params)
        assert response.status_code == 200, response.text
        return sorted(m["to"] for m in response.json()["messages"])

    assert len(await found()) == 7
    assert await found(recipient="BOB@") == ["bob@example.com"]
    assert await found(subject="order") == ["bob@example.com", "cafe", "seed@acme.test"]
    assert await found(eventType="ORDER") == ["bob@example.com", "seed@acme.test"]
    assert await found(channel="email") == sorted(
        ["ann@example.com", "bob@example.com", "cid+hard@example.com", "seed@acme.test"]
    )
    assert await found(channel="push") == ["cafe", "f00d"]
    assert await found(channel="sms") == ["+447700900123"]
    assert await found(status="failed") == ["cid+hard@example.com"]
    assert await found(proof="true") == ["seed@acme.test"]
    assert len(await found(proof="false")) == 6
    assert await found(q="welcome") == ["cid+hard@example.com"]
    assert await found(q="100%_") == ["f00d"]  # LIKE wildcards are taken literally
    assert await found(q="100%x") == []
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert len(await found(since=past, until=future)) == 7
    assert await found(since=future) == []
    assert await found(until=past) == []
    assert await found(recipient="ann", channel="sms") == []

    bad = await mid.get("/api/v1/messages", params={"channel": "fax"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"


async def test_paging_newest_first(mid: httpx.AsyncClient) -> None:
    messages = [email_message(f"u{i}@example.com") for i in range(5)]
    for message in messages:
        await append(mid, part(message))
    await settle(mid, 5)
    first = (await mid.get("/api/v1/messages", params={"limit": 2})).json()
    assert (first["total"], first["offset"], first["limit"]) == (5, 0, 2)
    assert [m["to"] for m in first["messages"]] == ["u4@example.com", "u3@example.com"]
    last = (await mid.get("/api/v1/messages", params={"limit": 2, "offset": 4})).json()
    assert [m["to"] for m in last["messages"]] == ["u0@example.com"]
    assert (await mid.get("/api/v1/messages", params={"limit": 0})).status_code == 400


async def test_one_message_in_detail_and_its_raw_eml(mid: httpx.AsyncClient) -> None:
    message = email_message(
        "ann@example.com",
        subject="Réinitialisation",
        text="Bonjour Ann\n",
        html="<p>Bonjour <i>Ann</i></p>",
    )
    await append(mid, part(message))
    await settle(mid, 1)
    detail = await message_of(mid, message.id)
    assert detail["status"] == "sent"
    assert (detail["subject"], detail["text"], detail["html"]) == (
        "Réinitialisation",
        "Bonjour Ann\n",
        "<p>Bonjour <i>Ann</i></p>",
    )
    assert (detail["fromName"], detail["fromAddress"], detail["replyTo"]) == (
        "Acme",
        "noreply@acme.test",
        "help@acme.test",
    )
    assert detail["eventId"] == str(message.event_id)
    assert detail["result"] == "250 2.0.0 Ok: captured by mcsim"
    headers = {h["name"]: h["value"] for h in detail["headers"]}
    assert headers["Subject"] == "Réinitialisation"
    assert headers["X-Mcsim-Message-Id"] == message.id

    raw = await mid.get(f"/api/v1/messages/{detail['id']}/raw")
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("message/rfc822")
    assert f'filename="message-{detail["id"]}.eml"' in raw.headers["content-disposition"]
    parsed = email.message_from_bytes(raw.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Réinitialisation"
    assert parsed["To"] == "ann@example.com"
    html = parsed.get_body(("html",))
    assert html is not None and "Bonjour <i>Ann</i>" in html.get_content()
    assert parsed.defects == []


async def test_sms_and_push_raw_is_their_json(mid: httpx.AsyncClient) -> None:
    message = push("f00d", channel="ios")
    await append(mid, part(message))
    await settle(mid, 1)
    detail = await message_of(mid, message.id)
    assert detail["headers"] == []
    assert (detail["title"], detail["app"]) == ("Order shipped", "com.acme.app")
    raw = await mid.get(f"/api/v1/messages/{detail['id']}/raw")
    assert raw.headers["content-type"] == "application/json"
    assert raw.json()["data"] == {"orderId": "42"}


async def test_missing_messages_are_404(mid: httpx.AsyncClient) -> None:
    for path in ("/api/v1/messages/999", "/api/v1/messages/999/raw"):
        response = await mid.get(path)
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert (await mid.delete("/api/v1/messages/999")).status_code == 404


async def test_delete_one_and_all_but_never_a_message_being_delivered(
    mid: httpx.AsyncClient,
) -> None:
    done = email_message("ann@example.com")
    other = email_message("bob@example.com")
    waiting = email_message("ann+delay=60s@example.com")
    await append(mid, part(done, other, waiting))
    for _ in range(300):
        counts = (await mid.get("/api/v1/messages/counts")).json()
        if counts["byStatus"].get("sent") == 2:
            break
        await asyncio.sleep(0.02)
    assert counts == {
        "total": 3,
        "byStatus": {"sent": 2, "queued": 1},
        "byChannel": {"email": 3},
        "proofs": 0,
    }
    done_id = (await message_of(mid, done.id))["id"]
    waiting_id = (await message_of(mid, waiting.id))["id"]
    assert (await mid.delete(f"/api/v1/messages/{done_id}")).status_code == 204
    assert (await mid.get(f"/api/v1/messages/{done_id}")).status_code == 404
    refused = await mid.delete(f"/api/v1/messages/{waiting_id}")
    assert refused.status_code == 409
    assert "queued" in refused.json()["message"]
    cleared = await mid.delete("/api/v1/messages")
    assert cleared.json() == {"deleted": 1, "kept": 1}
    remaining = (await mid.get("/api/v1/messages")).json()
    assert [m["to"] for m in remaining["messages"]] == ["ann+delay=60s@example.com"]


async def test_counts_and_proofs(mid: httpx.AsyncClient) -> None:
    await _fill(mid)
    counts = (await mid.get("/api/v1/messages/counts")).json()
    assert counts == {
        "total": 7,
        "byStatus": {"sent": 6, "failed": 1},
        "byChannel": {"email": 4, "sms": 1, "ios": 1, "android": 1},
        "proofs": 1,
    }
    proof = (await mid.get("/api/v1/messages", params={"messageId": "proof-7"})).json()
    assert proof["messages"][0]["proof"] is True
    assert proof["messages"][0]["instance"] == 0


async def test_retention_keeps_the_newest_finished_messages(make_mid: MidFactory) -> None:
    async with make_mid(retention_max_messages=3, housekeeping_seconds=0.05) as mid:
        messages = [email_message(f"u{i}@example.com") for i in range(6)]
        for message in messages:
            await append(mid, part(message))
        newest = [f"u{i}@example.com" for i in (5, 4, 3)]
        for _ in range(500):
            page = (await mid.get("/api/v1/messages")).json()
            shown = [(m["to"], m["status"]) for m in page["messages"]]
            if shown == [(to, "sent") for to in newest]:
                break
            await asyncio.sleep(0.02)
        assert shown == [(to, "sent") for to in newest]
        # A retried part of a purged message is still recognised: nothing is delivered again.
        await append(mid, part(messages[0]))
        await asyncio.sleep(0.2)
        assert (await mid.get("/api/v1/messages")).json()["total"] == 3


async def test_retention_by_age_and_the_other_bounds(mid: httpx.AsyncClient) -> None:
    await append(mid, part(email_message("old@example.com"), email_message("gone+hard@x.com")))
    await settle(mid, 2)
    db = mid._transport.app.state.db  # type: ignore[attr-defined]
    retention = Retention(
        max_messages=100,
        max_age=timedelta(hours=1),
        log_max_age=timedelta(hours=2),
        dedupe_window=timedelta(hours=3),
    )
    now = datetime.now(UTC)
    assert run_housekeeping(db=db, retention=retention, now=now) == {
        "messages": 0,
        "logs": 0,
        "message_keys": 0,
        "parts": 0,
        "addresses": 0,
    }
    later = run_housekeeping(db=db, retention=retention, now=now + timedelta(hours=4), chunk=1)
    assert later == {"messages": 2, "logs": 2, "message_keys": 2, "parts": 1, "addresses": 0}
    # A hard-bounce quarantine has no end; it is only released through the API.
    quarantine = (await mid.get("/api/v1/quarantine")).json()
    assert [a["address"] for a in quarantine["addresses"]] == ["gone+hard@x.com"]


async def test_the_api_is_documented(mid: httpx.AsyncClient) -> None:
    schema = (await mid.get("/openapi.json")).json()
    paths = set(schema["paths"])
    assert {
        "/api/v1/messages",
        "/api/v1/messages/counts",
        "/api/v1/messages/{message_id}",
        "/api/v1/messages/{message_id}/raw",
        "/api/v1/quarantine",
        "/api/v1/quarantine/{address}",
        "/api/v1/chaos",
        "/api/v1/chaos/{channel}",
    } <= paths
    assert "/nl/jsp/soaprouter.jsp" not in paths
    assert (await mid.get("/docs")).status_code == 200
