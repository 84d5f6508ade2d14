"""The review's F10 part: a 150 KB HTML-only email of unclosed ``<head`` openings.

Before the fix its text alternative took 48 s of regex under the GIL (the whole server stopped);
now it is converted in linear time, off the event loop when sent, and the server keeps answering.
"""

from __future__ import annotations

import asyncio
import time

from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.support import append, email, message_of, part, settle
from tests.support.smtp import SmtpSink

HOSTILE = "<head" * 30_000


async def test_a_large_html_only_email_is_sent_and_shown_quickly(make_mid: MidFactory) -> None:
    with SmtpSink() as sink:
        async with make_mid(smtp_host=sink.host, smtp_port=sink.port) as mid:
            message = email("big@example.com", text="", html=HOSTILE)
            started = time.monotonic()
            await append(mid, part(message))
            health = await asyncio.gather(*(mid.get("/health") for _ in range(5)))
            assert all(answer.status_code == 200 for answer in health)
            assert await settle(mid, 1, within=20) == {"sent": 1}
            pk = (await message_of(mid, message.id))["id"]
            raw = await mid.get(f"/api/v1/messages/{pk}/raw")
            elapsed = time.monotonic() - started
        assert raw.status_code == 200
        (received,) = sink.received
        assert received.data.replace(b"\r\n", b"\n") == raw.content.replace(b"\r\n", b"\n")
        plain = received.message.get_body(("plain",))
        assert plain is not None and plain.get_content().startswith("<head<head")
        assert elapsed < 10  # 48 s for the conversion alone before the fix
