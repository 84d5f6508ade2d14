"""Captured messages: ``/api/v1/messages`` (search, read, raw source, delete, counts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from midsourcing.capture import service
from midsourcing.capture.schemas import (
    DeleteResult,
    MessageCounts,
    MessageDetail,
    MessageFilter,
    MessagePage,
)
from midsourcing.capture.stream import changes
from midsourcing.deps import StateDep
from services.safe_input import Int64, RowId, SearchText
from services.waiting import MAX_WAIT_SECONDS

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/messages", tags=["messages"])

Channel = Literal["email", "sms", "ios", "android", "push"]
Status = Literal["queued", "sending", "sent", "failed", "ignored"]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("", response_model=MessagePage)
async def list_messages(
    state: StateDep,
    q: Annotated[
        SearchText | None,
        Query(description="Text in recipient, subject, type or message id; or the event id."),
    ] = None,
    recipient: Annotated[SearchText | None, Query(description="Part of the recipient.")] = None,
    subject: Annotated[
        SearchText | None, Query(description="Part of the subject or title.")
    ] = None,
    event_type: Annotated[SearchText | None, Query(alias="eventType")] = None,
    message_id: Annotated[SearchText | None, Query(alias="messageId")] = None,
    channel: Annotated[Channel | None, Query(description="push: ios and android.")] = None,
    status: Status | None = None,
    proof: bool | None = None,
    since: Annotated[datetime | None, Query(description="Accepted at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Accepted before (ISO 8601).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[Int64, Query(ge=0)] = 0,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Seconds to wait for a first match before answering (long-poll); "
            "the answer comes as soon as a matching message is captured.",
        ),
    ] = 0,
) -> MessagePage:
    """Search the captured messages, newest first (with ``wait``: wait for a first match)."""
    criteria = MessageFilter(
        q=q,
        recipient=recipient,
        subject=subject,
        event_type=event_type,
        message_id=message_id,
        channel=channel,
        status=status,
        proof=proof,
        since=_utc(since),
        until=_utc(until),
    )
    return await service.search_messages(
        db=state.db, feed=state.feed, criteria=criteria, limit=limit, offset=offset, wait=wait
    )


@router.delete("", response_model=DeleteResult)
async def delete_messages(state: StateDep) -> DeleteResult:
    """Delete every finished message (messages still being delivered are kept)."""
    result = await run_in_threadpool(service.delete_messages, db=state.db)
    state.feed.changed()
    return result


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_changes(state: StateDep) -> StreamingResponse:
    """Send a Server-Sent Event (``event: messages``) whenever the captured messages change."""
    return StreamingResponse(
        changes(state.feed),
        media_type="text/event-stream",
        headers={"cache-control": "no-store"},
    )


@router.get("/counts", response_model=MessageCounts)
async def count_messages(state: StateDep) -> MessageCounts:
    """Count the captured messages by status and channel."""
    return await run_in_threadpool(service.count_messages, db=state.db)


@router.get("/{message_id}", response_model=MessageDetail)
async def get_message(state: StateDep, message_id: RowId) -> MessageDetail:
    """Return one message: content, headers as sent, delivery result."""
    return await run_in_threadpool(
        service.get_message, db=state.db, pk=message_id, domain=state.settings.message_id_domain
    )


@router.get(
    "/{message_id}/raw",
    response_class=Response,
    responses={200: {"content": {"message/rfc822": {}, "application/json": {}}}},
)
async def raw_message(state: StateDep, message_id: RowId) -> Response:
    """Return the source: the ``.eml`` of an email, the webhook JSON of an SMS or push."""
    raw = await run_in_threadpool(
        service.raw_message, db=state.db, pk=message_id, domain=state.settings.message_id_domain
    )
    disposition = f'inline; filename="{raw.filename}"'
    return Response(
        raw.body, media_type=raw.media_type, headers={"content-disposition": disposition}
    )


@router.delete("/{message_id}", status_code=204, response_class=Response)
async def delete_message(state: StateDep, message_id: RowId) -> Response:
    """Delete one finished message."""
    await run_in_threadpool(service.delete_message, db=state.db, pk=message_id)
    state.feed.changed()
    return Response(status_code=204)
