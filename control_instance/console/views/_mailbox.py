"""What the mid-sourcing mailbox captured for an event: its messages, their tries and reasons.

The event page links straight to the captured message and to each try of its delivery (the
message page's delivery log), with the failure reason in words: the execution instance keeps
only the final status, the reason's number and the relay's last answer. Asked of the mailbox's
JSON API (no login, as the mailbox) with a short timeout; when it cannot answer, the page says
so and offers a search.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlencode

import httpx

from control_instance.state import ControlState

__all__ = ["CapturedMessage", "DeliveryTry", "MailboxAnswer", "find_messages"]

log = logging.getLogger("mcsim.console.mailbox")

#: The event page does not wait longer than this for the mailbox.
_TIMEOUT_SECONDS = 2.0
#: The tries of this many messages of the event are read (an event has one message).
_MOST_DETAILED = 3
_ERRORS = (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError)


@dataclass(frozen=True)
class DeliveryTry:
    """One try of a message's delivery, linked to its line in the mailbox's delivery log."""

    number: int
    at: datetime
    status: str
    failure_label: str
    url: str


@dataclass(frozen=True)
class CapturedMessage:
    """One message of the event, as the mailbox shows it."""

    id: int
    url: str
    channel: str
    to: str
    status: str
    tries: int
    failure_reason: int
    failure_label: str
    delivery_log: list[DeliveryTry] = field(default_factory=list)


@dataclass(frozen=True)
class MailboxAnswer:
    """The event's messages (newest first), or why the mailbox could not tell."""

    base_url: str
    search_url: str
    messages: list[CapturedMessage]
    problem: str | None = None


async def find_messages(*, state: ControlState, pl_id: int) -> MailboxAnswer:
    """Return the messages the mailbox captured for event ``pl_id`` (never its proofs)."""
    base = state.settings.midsourcing_url.rstrip("/")
    search = f"{base}/?" + urlencode({"q": str(pl_id)})
    try:
        answer = await state.http.get(
            f"{base}/api/v1/messages",
            params={"q": str(pl_id), "limit": 20},
            timeout=_TIMEOUT_SECONDS,
        )
        answer.raise_for_status()
        listed = answer.json().get("messages", [])
        messages = [
            CapturedMessage(
                id=int(item["id"]),
                url=f"{base}/messages/{int(item['id'])}",
                channel=str(item.get("channel", "")),
                to=str(item.get("to", "")),
                status=str(item.get("status", "")),
                tries=int(item.get("tries", 0)),
                failure_reason=int(item.get("failureReason", 0)),
                failure_label=str(item.get("failureLabel", "")),
            )
            for item in listed
            if item.get("eventId") == str(pl_id) and not item.get("proof")
        ]
    except _ERRORS as exc:
        log.info("the mailbox cannot say what it captured", extra={"error": repr(exc)})
        return MailboxAnswer(base, search, [], problem="The mailbox could not be reached.")
    detailed = await asyncio.gather(
        *(_with_tries(state, base, message) for message in messages[:_MOST_DETAILED])
    )
    return MailboxAnswer(base, search, [*detailed, *messages[_MOST_DETAILED:]])


async def _with_tries(state: ControlState, base: str, message: CapturedMessage) -> CapturedMessage:
    """Return ``message`` with its delivery log (without, when the mailbox cannot tell)."""
    try:
        answer = await state.http.get(
            f"{base}/api/v1/messages/{message.id}", timeout=_TIMEOUT_SECONDS
        )
        answer.raise_for_status()
        tries = [
            DeliveryTry(
                number=int(item["number"]),
                at=datetime.fromisoformat(str(item["at"])),
                status=str(item["status"]),
                failure_label=str(item.get("failureLabel", "")),
                url=f"{message.url}#try-{int(item['number'])}",
            )
            for item in answer.json().get("deliveryLog", [])
        ]
    except _ERRORS as exc:
        log.info("the mailbox cannot say how a message was tried", extra={"error": repr(exc)})
        return message
    return replace(message, delivery_log=tries)
