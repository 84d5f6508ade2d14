"""Delivery logs give events their final status in one statement, never overwriting one; an
unreadable log never holds back the logs after it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from execution_instance.app import create_app
from execution_instance.intake.channels import EventStatus
from execution_instance.intake.service import split_pl_id
from execution_instance.processing.claims import Delivered, apply_delivered
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from services.db import Database
from services.delivery_protocol import FailureType, LogStatus, render_delivery_logs
from services.dev_credentials import CONTROL_PLANE
from services.soap.envelope import Output, read_call, render_response
from tests.integration.execution.conftest import add_event
from tests.support.asgi import serve
from tests.support.fake_mid import FakeMid
from tests.support.soap import event_xml, outputs_of, push_events_envelope


def _add(db: Database, status: EventStatus) -> int:
    return add_event(db, status=int(status), claimed_by="w1")


def test_many_logs_apply_at_once_and_final_statuses_stay(db: Database) -> None:
    processing = [_add(db, EventStatus.PROCESSING) for _ in range(3)]
    pending = _add(db, EventStatus.PENDING)  # the log was read before the hand-over committed
    done = _add(db, EventStatus.ROUTING_FAILED)
    at = datetime(2026, 11, 29, 1, 0, 0, 123000, tzinfo=UTC)
    delivered = [
        Delivered(processing[0], EventStatus.PROCESSED, failure_reason=None, error=None, at=at),
        Delivered(processing[1], EventStatus.DELIVERY_FAILED, 2, "550 unknown user", at),
        Delivered(processing[2], EventStatus.IGNORED, 9, "quarantined", at),
        Delivered(pending, EventStatus.PROCESSED, None, None, at),
        Delivered(done, EventStatus.PROCESSED, None, None, at),
        # A second log of the same event (read again): the first final status stays.
        Delivered(processing[0], EventStatus.DELIVERY_FAILED, 2, "late", at + timedelta(1)),
    ]
    with db.transaction(write=True) as session:
        apply_delivered(session, delivered)
    with db.transaction() as session:
        rows = {e.id: e for e in session.execute(select(Event)).scalars()}
    first = rows[processing[0]]
    assert (first.status, first.error_text, first.processed_at) == (EventStatus.PROCESSED, None, at)
    assert first.claimed_by is None and first.updated_at is not None
    failed = rows[processing[1]]
    assert (failed.status, failed.failure_reason, failed.error_text) == (
        EventStatus.DELIVERY_FAILED,
        2,
        "550 unknown user",
    )
    assert rows[processing[2]].status == EventStatus.IGNORED
    assert rows[pending].status == EventStatus.PROCESSED
    assert rows[done].status == EventStatus.ROUTING_FAILED
    assert rows[done].claimed_by == "w1"  # untouched


class GarblingMid(FakeMid):
    """Answers GetDeliveryLogs with some attributes replaced (``garble``: seq → attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.garble: dict[int, dict[str, str]] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer as FakeMid, with the logs of GetDeliveryLogs garbled."""
        call = read_call(request.content, soap_action=request.headers.get("soapaction"))
        if call.method != "GetDeliveryLogs":
            return super().handle(request)
        cursor = int(call.text(1) or 0)
        page = [log for log in self.logs if log.seq > cursor][: int(call.text(2) or 100)]
        logs = render_delivery_logs(page)
        for element in logs:
            for name, value in self.garble.get(int(element.get("seq", "0")), {}).items():
                element.set(name, value)
        reply = render_response(
            call.service,
            call.method,
            [
                Output.xml("deliveryLogs", logs),
                Output.string("nextCursor", str(page[-1].seq) if page else str(cursor)),
            ],
        )
        return httpx.Response(200, content=reply.body)


async def test_an_unreadable_delivery_log_does_not_hold_back_the_logs_after_it(
    tmp_path: Path,
) -> None:
    mid = GarblingMid()
    http = httpx.AsyncClient(transport=mid.transport())
    app = _syncing_instance(tmp_path, http)
    async with serve(app) as client:
        await _publish(client)
        answer = await client.post(
            "/nl/jsp/soaprouter.jsp",
            content=push_events_envelope(
                [event_xml(email=f"u{n}@example.com") for n in range(3)]
            ).encode(),
            headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvents"},
        )
        pks = [split_pl_id(int(t))[1] for t in outputs_of(answer.content, "plId")]
        await _until(lambda: len(mid.messages) == 3)
        unreadable, odd, fine = (mid.message_for(pk).id for pk in pks)
        mid.garble = {1: {"status": "bounced"}, 2: {"failureReason": "40000", "at": "later"}}
        mid.report(unreadable, LogStatus.SENT)  # seq 1: a status nobody knows
        mid.report(odd, LogStatus.FAILED, reason=1, failure=FailureType.HARD, text="550")
        mid.report(fine, LogStatus.SENT)
        await _until(lambda: _status(app, pks[2]) == EventStatus.PROCESSED)
        rows = {pk: _row(app, pk) for pk in pks}
    await http.aclose()
    assert rows[pks[0]].status == EventStatus.PROCESSING  # its log could not be read
    failed = rows[pks[1]]
    assert (failed.status, failed.error_text) == (EventStatus.DELIVERY_FAILED, "550")
    assert failed.failure_reason is None  # 40000 does not fit the column: not kept


def _syncing_instance(tmp_path: Path, http: httpx.AsyncClient) -> FastAPI:
    """An instance with one worker that hands over and reads delivery logs every 50 ms."""
    settings = ExecutionSettings(
        data_dir=tmp_path,
        event_types=["PASSWORD_RESET"],
        midsourcing_url="http://mid",
        workers=1,
        idle_poll_seconds=0.05,
        status_sync_seconds=0.05,
    )
    return create_app(settings, http_client=http)


async def _publish(client: httpx.AsyncClient) -> None:
    """Publish an e-mail template for PASSWORD_RESET."""
    content = {"from_address": "a@acme.test", "subject": "s", "html": "<p>h</p>", "text": "t"}
    published = await client.put(
        "/_mc/templates/reset",
        json={"event_type": "PASSWORD_RESET", "channel": 0, "version": 1, "content": content},
        auth=CONTROL_PLANE,
    )
    assert published.status_code == 200, published.text


async def _until(condition: Callable[[], bool], within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        if condition():
            return
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


def _row(app: object, pk: int) -> Event:
    with app.state.db.transaction() as session:  # type: ignore[attr-defined]
        row: Event | None = session.get(Event, pk)
    assert row is not None
    return row


def _status(app: object, pk: int) -> EventStatus:
    return EventStatus(_row(app, pk).status)


async def test_a_late_log_of_a_message_sent_before_a_reset_does_not_touch_the_new_event(
    tmp_path: Path,
) -> None:
    """After a reset the pks start again (SQLite): the new event 1 must not take the outcome
    of a message sent for the old event 1 (its id carries the former epoch)."""
    mid = FakeMid()
    http = httpx.AsyncClient(transport=mid.transport())
    app = _syncing_instance(tmp_path, http)
    push = {"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvents"}
    async with serve(app) as client:
        await _publish(client)
        body = push_events_envelope([event_xml(email="old@example.com")]).encode()
        answer = await client.post("/nl/jsp/soaprouter.jsp", content=body, headers=push)
        (old_pk,) = [split_pl_id(int(t))[1] for t in outputs_of(answer.content, "plId")]
        await _until(lambda: len(mid.messages) == 1)
        (old_message,) = mid.messages
        reset = await client.post("/_mc/reset", auth=CONTROL_PLANE)
        assert reset.status_code == 200, reset.text

        body = push_events_envelope([event_xml(email="new@example.com")]).encode()
        answer = await client.post("/nl/jsp/soaprouter.jsp", content=body, headers=push)
        (new_pk,) = [split_pl_id(int(t))[1] for t in outputs_of(answer.content, "plId")]
        await _until(lambda: len(mid.messages) == 2)
        (new_message,) = [m for m in mid.messages if m != old_message]
        mid.report(old_message, LogStatus.FAILED, reason=1, failure=FailureType.HARD, text="550")
        mid.report(new_message, LogStatus.SENT)
        # Final statuses only: the fake receives the part before the instance marks the event
        # processing, so "not processing" also held while it was still pending.
        final = (EventStatus.PROCESSED, EventStatus.DELIVERY_FAILED)
        await _until(lambda: _status(app, new_pk) in final)
        row = _row(app, new_pk)
    await http.aclose()
    assert new_pk == old_pk  # the case at stake: the reset made the pk free again
    assert (row.status, row.error_text) == (EventStatus.PROCESSED, None)
