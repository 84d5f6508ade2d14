"""What the mid-sourcing mailbox captured for an event: its messages, their tries and reasons.

The event page links straight to the captured message and shows how many tries its delivery
took, with the failure reason in words: the execution instance keeps only the final status, the
reason's number and the relay's last answer. Asked of the mailbox's JSON API (no login, as the
mailbox) with a short timeout; when it cannot answer, the page says so and offers a search.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from control_instance.state import ControlState

__all__ = ["CapturedMessage", "MailboxAnswer", "find_messages"]

log = logging.getLogger("mcsim.console.mailbox")

#: The event page does not wait longer than this for the mailbox.
_TIMEOUT_SECONDS = 2.0


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
    except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.info("the mailbox cannot say what it captured", extra={"error": repr(exc)})
        return MailboxAnswer(base, search, [], problem="The mailbox could not be reached.")
    return MailboxAnswer(base, search, messages)
