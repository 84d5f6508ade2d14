"""Waiting on the server (issue 16 item 3): a search with ``wait`` answers as soon as a first
match is captured, not at its end nor by polling; the mailbox's Server-Sent Events stream one
event per change and ends at once when the server stops."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx

from midsourcing.app import create_app
from services.runner import uvicorn_options
from tests.integration.midsourcing.conftest import MidFactory, mid_settings
from tests.integration.midsourcing.support import ROUTER, append, append_envelope, email, part
from tests.support.live import live_server


async def _search(mid: httpx.AsyncClient, **params: str) -> tuple[dict[str, object], float]:
    started = time.monotonic()
    answer = await mid.get("/api/v1/messages", params=params, timeout=30)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body, time.monotonic() - started


async def test_a_wait_answers_at_the_first_match(mid: httpx.AsyncClient) -> None:
    waiting = asyncio.create_task(_search(mid, recipient="ann@example.com", wait="10"))
    await asyncio.sleep(0.3)
    feed = mid._transport.app.state.mid.feed  # type: ignore[attr-defined]
    before = feed.version
    await append(mid, part(email("zed@example.com")))  # no match: the wait goes on
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await append(mid, part(email("ann@example.com", subject="Your code")))
    found, took = await waiting
    assert found["total"] == 1
    assert found["messages"][0]["subject"] == "Your code"  # type: ignore[index]
    assert 0.6 <= took < 3
    # It searched again at changes (parts accepted, outcomes recorded), not in a loop.
    assert feed.version - before <= 6


async def test_a_wait_for_a_status_and_a_wait_that_ends_empty(mid: httpx.AsyncClient) -> None:
    await append(mid, part(email("bob+delay=1s@example.com")))
    found, took = await _search(mid, recipient="bob", status="sent", wait="10")
    assert found["total"] == 1 and 0.5 < took < 4
    empty, took = await _search(mid, recipient="nobody", wait="0.5")
    assert empty["total"] == 0 and empty["messages"] == []
    assert 0.5 <= took < 2
    at_once, took = await _search(mid, recipient="bob")  # no wait: at once, as before
    assert at_once["total"] == 1 and took < 1


async def test_a_wait_beyond_the_cap_is_refused(mid: httpx.AsyncClient) -> None:
    for value in ("26", "-1", "soon"):
        answer = await mid.get("/api/v1/messages", params={"wait": value})
        assert answer.status_code == 400, value
        assert answer.json()["field"] == "query.wait"


async def _events(url: str, seen: list[str], ready: asyncio.Event) -> None:
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", url + "/api/v1/messages/stream") as stream,
    ):
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                seen.append(line.removeprefix("event:").strip())
                ready.set()


async def test_the_stream_tells_each_change_and_ends_when_the_server_stops(
    tmp_path: Path,
) -> None:
    app = create_app(mid_settings(tmp_path))
    seen: list[str] = []
    got = asyncio.Event()
    server = live_server(app, **uvicorn_options())
    url = server.__enter__()
    stopped_in: list[float] = []
    try:
        reader = asyncio.create_task(_events(url, seen, got))
        await asyncio.wait_for(got.wait(), 10)
        assert seen == ["ready"]
        got.clear()
        async with httpx.AsyncClient(base_url=url) as client:
            body = append_envelope(part(email("ann@example.com"))).encode()
            answer = await client.post(ROUTER, content=body, headers={"content-type": "text/xml"})
            assert answer.status_code == 200
        await asyncio.wait_for(got.wait(), 5)
        assert seen[1] == "messages"
    finally:

        def stop() -> None:
            started = time.monotonic()
            server.__exit__(None, None, None)
            stopped_in.append(time.monotonic() - started)

        stopper = threading.Thread(target=stop)
        stopper.start()
        await asyncio.to_thread(stopper.join, 20)
    await asyncio.wait_for(reader, 5)  # the stream ended: the reader is done
    assert stopped_in and stopped_in[0] < 5  # not the 10 s graceful timeout


async def test_deletes_and_resets_are_changes(make_mid: MidFactory) -> None:
    async with make_mid() as mid:
        feed = mid._transport.app.state.mid.feed  # type: ignore[attr-defined]
        version = feed.version
        await mid.post("/api/v1/reset")
        assert feed.version == version + 1
        await mid.delete("/api/v1/messages")
        assert feed.version == version + 2


async def test_a_long_poll_answers_when_the_server_stops(tmp_path: Path) -> None:
    server = live_server(create_app(mid_settings(tmp_path)), **uvicorn_options())
    url = server.__enter__()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        waiting = asyncio.create_task(
            client.get("/api/v1/messages", params={"recipient": "nobody", "wait": "20"})
        )
        await asyncio.sleep(0.5)
        assert not waiting.done()
        started = time.monotonic()
        await asyncio.to_thread(server.__exit__, None, None, None)
        assert time.monotonic() - started < 5  # not the 10 s graceful timeout, nor the 20 s
        answer = await waiting
    assert answer.status_code == 200
    assert answer.json()["total"] == 0
