"""Forward SMS and push messages to a webhook: a JSON POST, retried with backoff.

The message is captured whatever the webhook does; what it answered is kept on the message
(``forwarded``). Connection errors, 5xx and 429 answers are retried; other answers are final.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx

from midsourcing.delivery.item import Outgoing
from services.version import VERSION

__all__ = ["WebhookForwarder", "webhook_payload"]

log = logging.getLogger("mcsim.mid.webhook")


def webhook_payload(item: Outgoing) -> dict[str, Any]:
    """Return the JSON document posted for ``item``."""
    try:
        data: Any = json.loads(item.data) if item.data else None
    except ValueError:
        data = item.data  # not JSON: passed on as text
    payload: dict[str, Any] = {
        "messageId": item.message_id,
        "eventId": str(item.event_id),
        "eventType": item.event_type,
        "channel": item.channel,
        "to": item.recipient,
        "text": item.text,
        "proof": item.proof,
        "acceptedAt": item.created_at.isoformat(),
    }
    if item.channel in {"ios", "android"}:
        payload.update(title=item.title, app=item.app, data=data)
    return payload


class WebhookForwarder:
    """POST messages to webhook URLs through the service's HTTP client."""

    def __init__(self, client: httpx.AsyncClient, *, tries: int, retry_seconds: float) -> None:
        self.client = client
        self.tries = tries
        self.retry_seconds = retry_seconds

    async def forward(self, url: str, item: Outgoing) -> str:
        """POST ``item`` to ``url``; return what happened, in words."""
        payload = webhook_payload(item)
        headers = {"x-mcsim-message-id": item.message_id, "user-agent": f"mcsim/{VERSION}"}
        last = ""
        for attempt in range(1, self.tries + 1):
            try:
                response = await self.client.post(url, json=payload, headers=headers)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return (
                        f"HTTP {response.status_code} after {attempt} tries"
                        if attempt > 1
                        else (f"HTTP {response.status_code}")
                    )
                last = f"HTTP {response.status_code}"
            if attempt < self.tries:
                await asyncio.sleep(self.retry_seconds * 2 ** (attempt - 1))
        log.warning("webhook failed", extra={"url": url, "message_id": item.message_id})
        return f"failed after {self.tries} tries: {last}"
