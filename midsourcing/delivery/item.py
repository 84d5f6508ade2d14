"""A message as the delivery code sees it: the stored fields it needs, detached from the session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from midsourcing.tables import Message

__all__ = ["Outgoing"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to deliver (or to show): content, recipient and which try this is."""

    pk: int
    message_id: str
    instance: int
    event_id: int
    event_type: str
    channel: str
    recipient: str
    proof: bool
    template_version: int
    from_name: str
    from_address: str
    reply_to: str
    subject: str
    text: str
    html: str
    title: str
    app: str
    data: str
    created_at: datetime
    tries: int  # the number of this try (1 for the first)

    @classmethod
    def from_row(cls, row: Message | Row[Any], *, tries: int | None = None) -> Outgoing:
        """Return the message held by ``row`` (an ORM object or a Core row of its columns)."""
        return cls(
            pk=row.id,
            message_id=row.message_id,
            instance=row.instance,
            event_id=row.event_id,
            event_type=row.event_type,
            channel=row.channel,
            recipient=row.recipient,
            proof=row.proof,
            template_version=row.template_version,
            from_name=row.from_name,
            from_address=row.from_address,
            reply_to=row.reply_to,
            subject=row.subject,
            text=row.text,
            html=row.html,
            title=row.title,
            app=row.app,
            data=row.data,
            created_at=row.created_at,
            tries=row.tries if tries is None else tries,
        )

    @classmethod
    def from_values(cls, values: dict[str, Any], *, pk: int) -> Outgoing:
        """Return the message of a ``messages`` row given as column values (tries: this try)."""
        return cls(
            pk=pk,
            message_id=values["message_id"],
            instance=values["instance"],
            event_id=values["event_id"],
            event_type=values["event_type"],
            channel=values["channel"],
            recipient=values["recipient"],
            proof=values["proof"],
            template_version=values["template_version"],
            from_name=values["from_name"],
            from_address=values["from_address"],
            reply_to=values["reply_to"],
            subject=values["subject"],
            text=values["text"],
            html=values["html"],
            title=values["title"],
            app=values["app"],
            data=values["data"],
            created_at=values["created_at"],
            tries=values["tries"],
        )
