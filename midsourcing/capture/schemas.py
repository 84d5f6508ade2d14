"""JSON shapes of the captured-messages API (camelCase, as Campaign's REST API writes JSON)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "DeleteResult",
    "DeliveryTry",
    "Header",
    "MessageCounts",
    "MessageDetail",
    "MessageFilter",
    "MessagePage",
    "MessageSummary",
]


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class MessageFilter(_Camel):
    """What to search for; every given criterion must match."""

    q: str | None = None
    recipient: str | None = None
    subject: str | None = None
    event_type: str | None = None
    message_id: str | None = None
    channel: str | None = None
    status: str | None = None
    proof: bool | None = None
    since: datetime | None = None
    until: datetime | None = None


class MessageSummary(_Camel):
    """One message in a list."""

    id: int = Field(description="Id of the captured message in this API.")
    message_id: str = Field(description="The message id of the delivery part (cell-unique).")
    channel: str = Field(description="email, sms, ios or android.")
    to: str
    sender: str = Field(
        description="Who an email is from, as its From header (Name <address>); empty for SMS "
        "and push."
    )
    subject: str = Field(description="The email subject, or the push title.")
    snippet: str = Field(description="The first characters of the text.")
    event_type: str
    event_id: str = Field(description="The event's plId (a 64-bit number, as a string).")
    instance: int = Field(description="Execution instance of the event; 0 for a proof.")
    proof: bool
    status: str = Field(description="queued, sending, sent, failed or ignored.")
    failure_type: str = Field(description="hard, soft, or empty.")
    failure_reason: int = Field(description="Campaign failure reason (0: none).")
    failure_label: str
    tries: int
    created_at: datetime = Field(description="When mid-sourcing accepted the message.")
    finished_at: datetime | None
    read: bool = Field(description="Whether the message was opened in the mailbox.")


class Header(_Camel):
    """One email header, decoded."""

    name: str
    value: str


class DeliveryTry(_Camel):
    """One try of a message's delivery, as its delivery log recorded it."""

    number: int = Field(description="1 for the first try.")
    at: datetime
    status: str = Field(description="pending (to be tried again), sent, failed or ignored.")
    failure_type: str = Field(description="hard, soft, or empty.")
    failure_reason: int = Field(description="Campaign failure reason (0: none).")
    failure_label: str
    text: str = Field(description="What the relay, capture or connector answered.")


class MessageDetail(MessageSummary):
    """One message with its content, headers and delivery result."""

    from_name: str
    from_address: str
    reply_to: str
    text: str
    html: str
    title: str
    app: str = Field(description="Push: the mobile application.")
    data: str = Field(description="Push: the custom data (a JSON object as text).")
    template_version: int
    headers: list[Header] = Field(description="Email headers as sent (empty for SMS and push).")
    result: str = Field(description="What the relay, capture or connector answered last.")
    forwarded: str = Field(description="What the SMS or push webhook answered, if one is set.")
    delivery_log: list[DeliveryTry] = Field(
        default_factory=list, description="Each try, as the delivery log recorded it, in order."
    )


class MessagePage(_Camel):
    """A page of messages, newest first."""

    total: int
    offset: int
    limit: int
    messages: list[MessageSummary]


class MessageCounts(_Camel):
    """How many messages are captured, by status and by channel."""

    total: int
    by_status: dict[str, int]
    by_channel: dict[str, int]
    proofs: int


class DeleteResult(_Camel):
    """What a deletion did: messages still being delivered are never deleted."""

    deleted: int
    kept: int
