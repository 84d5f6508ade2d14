"""The quarantine API: list with filters, read one address, release one or all; expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from midsourcing.housekeeping import Retention, run_housekeeping
from tests.integration.midsourcing.support import append, email, part, push, settle, sms


async def _quarantine_some(mid: httpx.AsyncClient) -> None:
    await append(
        mid,
        part(
            email("ann+hard@example.com"),
            email("bob+soft@example.com"),
            sms("+447700900000"),
            push("invalid-1", channel="android"),
        ),
    )
    await settle(mid, 4)


async def test_list_filter_read_and_release(mid: httpx.AsyncClient) -> None:
    await _quarantine_some(mid)
    listing = (await mid.get("/api/v1/quarantine")).json()
    assert listing["total"] == 4
    by_address = {a["address"]: a for a in listing["addresses"]}
    assert by_address["ann+hard@example.com"]["failureLabel"] == "User unknown"
    assert by_address["ann+hard@example.com"]["expiresAt"] is None
    assert by_address["bob+soft@example.com"]["failureReason"] == 5
    assert by_address["bob+soft@example.com"]["errorCount"] == 5
    assert by_address["+447700900000"]["channel"] == "sms"

    async def addresses(**params: str) -> list[str]:
        page = (await mid.get("/api/v1/quarantine", params=params)).json()
        return sorted(a["address"] for a in page["addresses"])

    assert await addresses(channel="sms") == ["+447700900000"]
    assert await addresses(address="example.com") == [
        "ann+hard@example.com",
        "bob+soft@example.com",
    ]
    assert await addresses(status="withErrors") == []
    assert len(await addresses(status="quarantine")) == 4
    assert (await mid.get("/api/v1/quarantine", params={"status": "nope"})).status_code == 400

    one = await mid.get("/api/v1/quarantine/invalid-1")
    assert one.status_code == 200 and one.json()["channel"] == "android"
    assert (await mid.delete("/api/v1/quarantine/invalid-1")).status_code == 204
    assert (await mid.delete("/api/v1/quarantine/invalid-1")).status_code == 404
    released = await mid.delete("/api/v1/quarantine")
    assert released.json() == {"released": 3}
    assert (await mid.get("/api/v1/quarantine")).json()["total"] == 0


async def test_soft_quarantines_end_by_themselves_hard_ones_do_not(
    mid: httpx.AsyncClient,
) -> None:
    await _quarantine_some(mid)
    db = mid._transport.app.state.db  # type: ignore[attr-defined]
    retention = Retention(
        max_messages=1000,
        max_age=timedelta(days=365),
        log_max_age=timedelta(days=365),
        dedupe_window=timedelta(days=365),
    )
    now = datetime.now(UTC)
    # SMS unreachable: 10 days after the last soft bounce; mailbox full: 30 days.
    assert (
        run_housekeeping(db=db, retention=retention, now=now + timedelta(days=11))["addresses"] == 1
    )
    left = (await mid.get("/api/v1/quarantine")).json()
    assert sorted(a["address"] for a in left["addresses"]) == [
        "ann+hard@example.com",
        "bob+soft@example.com",
        "invalid-1",
    ]
    assert (
        run_housekeeping(db=db, retention=retention, now=now + timedelta(days=31))["addresses"] == 1
    )
    left = (await mid.get("/api/v1/quarantine")).json()
    assert sorted(a["address"] for a in left["addresses"]) == [
        "ann+hard@example.com",
        "invalid-1",
    ]
