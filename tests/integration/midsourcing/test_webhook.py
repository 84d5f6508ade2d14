"""SMS and push are captured and forwarded to webhooks: a JSON POST to a real loopback server,
retried with backoff on connection errors, 5xx and 429."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.delivery_protocol import LogStatus
from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import (
    append,
    final_logs,
    message_of,
    part,
    push,
    settle,
    sms,
)
from tests.support.smtp import free_port


@dataclass
class Hook:
    """A webhook receiver that answers the scripted statuses, then 200."""

    url: str
    script: list[int] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            with lock:
                state.calls.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                status = state.script.pop(0) if state.script else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


async def test_sms_are_forwarded_and_retried_until_the_webhook_accepts(
    make_mid: MidFactory, hook: Hook
) -> None:
    hook.script = [503, 429, 200]
    async with make_mid(sms_webhook_url=hook.url + "/sms", webhook_tries=5) as mid:
        message = sms("+447700900123", text="Your code is 1234")
        await append(mid, part(message))
        assert await settle(mid, 1) == {"sent": 1}
        captured = await message_of(mid, message.id)
        assert captured["forwarded"] == "HTTP 200 after 3 tries"
        assert captured["text"] == "Your code is 1234"
        assert (await final_logs(mid))[message.id].status is LogStatus.SENT
    assert len(hook.calls) == 3
    assert all(call == hook.calls[0] for call in hook.calls)  # the same POST each time
    call = hook.calls[0]
    assert call["path"] == "/sms"
    assert call["headers"]["Content-Type"] == "application/json"
    assert call["headers"]["x-mcsim-message-id"] == message.id
    assert call["json"] == {
        "messageId": message.id,
        "eventId": str(message.event_id),
        "eventType": "PASSWORD_RESET",
        "channel": "sms",
        "to": "+447700900123",
        "text": "Your code is 1234",
        "proof": False,
        "acceptedAt": captured["createdAt"].replace("Z", "+00:00"),
    }


async def test_push_goes_to_the_push_webhook_with_its_data_as_json(
    make_mid: MidFactory, hook: Hook
) -> None:
    async with make_mid(push_webhook_url=hook.url + "/push") as mid:
        ios = push("f00d", channel="ios", data='{"orderId": "42", "deep": {"link": "x"}}')
        android = push("cafe", channel="android", data="not json")
        await append(mid, part(ios, android, sms("+447700900123")))  # no SMS webhook set
        assert await settle(mid, 3) == {"sent": 3}
    assert sorted(c["json"]["to"] for c in hook.calls) == ["cafe", "f00d"]
    by_to = {c["json"]["to"]: c["json"] for c in hook.calls}
    assert by_to["f00d"]["data"] == {"orderId": "42", "deep": {"link": "x"}}
    assert by_to["f00d"]["title"] == "Order shipped"
    assert by_to["f00d"]["app"] == "com.acme.app"
    assert by_to["cafe"]["data"] == "not json"
    assert {c["path"] for c in hook.calls} == {"/push"}


async def test_a_client_error_is_not_retried(make_mid: MidFactory, hook: Hook) -> None:
    hook.script = [400]
    async with make_mid(sms_webhook_url=hook.url) as mid:
        message = sms("+447700900123")
        await append(mid, part(message))
        await settle(mid, 1)
        assert (await message_of(mid, message.id))["forwarded"] == "HTTP 400"
    assert len(hook.calls) == 1


async def test_a_dead_webhook_does_not_lose_the_message(make_mid: MidFactory) -> None:
    dead = f"http://127.0.0.1:{free_port()}/sms"
    async with make_mid(sms_webhook_url=dead, webhook_tries=3) as mid:
        message = sms("+447700900123")
        await append(mid, part(message))
        assert await settle(mid, 1) == {"sent": 1}
        forwarded = (await message_of(mid, message.id))["forwarded"]
        assert forwarded.startswith("failed after 3 tries: ConnectError")
