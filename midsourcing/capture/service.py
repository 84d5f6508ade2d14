"""Use cases of the captured-messages API: search, read, raw source, delete, counts."""

from __future__ import annotations

import asyncio
import json

from starlette.concurrency import run_in_threadpool

from midsourcing.capture import repository
from midsourcing.capture.feed import CaptureFeed
from midsourcing.capture.schemas import (
    DeleteResult,
    DeliveryTry,
    Header,
    MessageCounts,
    MessageDetail,
    MessageFilter,
    MessagePage,
    MessageSummary,
)
from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.mime import build_email, render_email
from midsourcing.delivery.reasons import FailureReason
from midsourcing.delivery.webhook import webhook_payload
from midsourcing.logs import repository as logs
from midsourcing.tables import Message
from services.clock import utc_now
from services.db import Database
from services.errors import Conflict, NotFound
from services.waiting import stream_stop, wait_any

__all__ = [
    "RawMessage",
    "count_messages",
    "delete_message",
    "delete_messages",
    "get_message",
    "list_messages",
    "raw_message",
    "search_messages",
]

_SNIPPET = 120


def _label(reason: int) -> str:
    try:
        return FailureReason(reason).label if reason else ""
    except ValueError:
        return f"Reason {reason}"


def _summary_fields(row: Message) -> dict[str, object]:
    text = " ".join(row.text.split())
    return {
        "id": row.id,
        "message_id": row.message_id,
        "channel": row.channel,
        "to": row.recipient,
        "sender": _sender(row),
        "subject": row.subject if row.channel == "email" else row.title,
        "snippet": text[:_SNIPPET],
        "event_type": row.event_type,
        "event_id": str(row.event_id),
        "instance": row.instance,
        "proof": row.proof,
        "status": row.status,
        "failure_type": row.failure_type,
        "failure_reason": row.failure_reason,
        "failure_label": _label(row.failure_reason),
        "tries": row.tries,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "read": row.seen_at is not None,
    }


def _sender(row: Message) -> str:
    if row.channel != "email":
        return ""
    return f"{row.from_name} <{row.from_address}>" if row.from_name else row.from_address


def open_message(*, db: Database, pk: int) -> tuple[int | None, int | None]:
    """Mark message ``pk`` read (the first time it is opened) and return the ids of the
    newer and the older message, for the mailbox's previous/next links."""
    with db.transaction(write=True) as session:
        if not repository.mark_seen(session, pk=pk, now=utc_now()):
            raise NotFound(f"no captured message {pk}", field="id")
        return repository.neighbours(session, pk=pk)


def list_messages(*, db: Database, criteria: MessageFilter, limit: int, offset: int) -> MessagePage:
    """Return one page of the messages matching ``criteria``, newest first."""
    with db.transaction() as session:
        total, rows = repository.list_page(session, criteria=criteria, limit=limit, offset=offset)
        messages = [MessageSummary.model_validate(_summary_fields(row)) for row in rows]
    return MessagePage(total=total, offset=offset, limit=limit, messages=messages)


async def search_messages(
    *,
    db: Database,
    feed: CaptureFeed,
    criteria: MessageFilter,
    limit: int,
    offset: int,
    wait: float = 0.0,
) -> MessagePage:
    """Return a page of the matching messages; with ``wait``, wait up to that many seconds for
    a first match (the search runs again at each change of the captured messages, not in a
    loop of its own)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    with stream_stop() as stop:  # the server stopping answers what there is
        while True:
            change = feed.next_change()  # before the search: a change during it is not missed
            found = await run_in_threadpool(
                list_messages, db=db, criteria=criteria, limit=limit, offset=offset
            )
            left = deadline - loop.time()
            if found.total or left <= 0 or stop.is_set():
                return found
            if not await wait_any(change, stop, seconds=left):
                return found


def _found(db: Database, pk: int) -> Message:
    with db.transaction() as session:
        row = repository.get(session, pk=pk)
    if row is None:
        raise NotFound(f"no captured message {pk}", field="id")
    return row


def _tries(db: Database, row: Message) -> list[DeliveryTry]:
    with db.transaction() as session:
        found = logs.list_for_message(session, message_id=row.message_id, since=row.created_at)
    return [
        DeliveryTry(
            number=log.tries,
            at=log.at,
            status=log.status,
            failure_type=log.failure_type,
            failure_reason=log.failure_reason,
            failure_label=_label(log.failure_reason),
            text=log.text,
        )
        for log in found
    ]


def get_message(*, db: Database, pk: int, domain: str) -> MessageDetail:
    """Return one message with its content, its headers as sent (email) and each try."""
    row = _found(db, pk)
    headers: list[Header] = []
    if row.channel == "email":
        try:
            email = build_email(Outgoing.from_row(row), domain=domain)
            headers = [Header(name=name, value=str(value)) for name, value in email.items()]
        except ValueError:
            pass  # not encodable (a recipient that is no email address): it has no headers
    return MessageDetail.model_validate(
        {
            **_summary_fields(row),
            "from_name": row.from_name,
            "from_address": row.from_address,
            "reply_to": row.reply_to,
            "text": row.text,
            "html": row.html,
            "title": row.title,
            "app": row.app,
            "data": row.data,
            "template_version": row.template_version,
            "headers": headers,
            "result": row.result_text,
            "forwarded": row.forwarded,
            "delivery_log": _tries(db, row),
        }
    )


class RawMessage:
    """The source of a message: an ``.eml`` for email, the webhook JSON for SMS and push."""

    def __init__(self, body: bytes, media_type: str, filename: str) -> None:
        self.body = body
        self.media_type = media_type
        self.filename = filename


def raw_message(*, db: Database, pk: int, domain: str) -> RawMessage:
    """Return the source of one message, byte for byte what the relay received."""
    row = _found(db, pk)
    item = Outgoing.from_row(row)
    if row.channel == "email":
        try:
            body = render_email(item, domain=domain)
        except ValueError as exc:
            raise Conflict(f"message {pk} has no source: {exc}", field="id") from None
        return RawMessage(body, "message/rfc822", f"message-{pk}.eml")
    body = json.dumps(webhook_payload(item), ensure_ascii=False, indent=2).encode()
    return RawMessage(body, "application/json", f"message-{pk}.json")


def delete_message(*, db: Database, pk: int) -> None:
    """Delete one finished message; refuse one that is still being delivered."""
    with db.transaction(write=True) as session:
        row = repository.get(session, pk=pk)
        if row is None:
            raise NotFound(f"no captured message {pk}", field="id")
        if row.status not in repository.FINAL:
            raise Conflict(
                f"message {pk} is {row.status}: it can be deleted once its delivery is finished",
                field="id",
            )
        repository.delete_ids(session, pks=[pk])


def delete_messages(*, db: Database) -> DeleteResult:
    """Delete every finished message; those still being delivered are kept."""
    with db.transaction(write=True) as session:
        deleted = repository.delete_finished(session)
        kept = sum(repository.count_by(session, Message.status).values())
    return DeleteResult(deleted=deleted, kept=kept)


def count_messages(*, db: Database) -> MessageCounts:
    """Return how many messages are captured, by status and channel."""
    with db.transaction() as session:
        by_status = repository.count_by(session, Message.status)
        by_channel = repository.count_by(session, Message.channel)
        proofs = repository.count_proofs(session)
    return MessageCounts(
        total=sum(by_status.values()),
        by_status=by_status,
        by_channel=by_channel,
        proofs=proofs,
    )
