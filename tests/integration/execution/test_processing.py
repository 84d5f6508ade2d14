"""Event processing on one execution instance, with mid-sourcing faked at the transport."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from execution_instance.intake.channels import EventStatus
from execution_instance.tables import Event
from services.delivery_protocol import FailureType, LogStatus
from tests.integration.execution.conftest import ADMIN, EMAIL
from tests.support.fake_mid import FakeMid
from tests.support.soap import event_xml


async def test_an_event_is_rendered_handed_over_and_marked_sent(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        pk = await instance.push()
        handed = await instance.wait_status(pk, EventStatus.PROCESSING)
        assert handed.template_name == "reset"
        assert handed.template_version == 1
        assert handed.delivery_part is not None
        message = instance.mid.message_for(pk)
        assert re.fullmatch(rf"1-[0-9a-f]{{8}}-{pk}", message.id)
        assert message.subject == "Reset your password, Ann"
        assert message.html == "<p>Hello Ann</p>"
        assert message.text == "Hello Ann"
        assert message.from_address == "noreply@acme.test"
        assert message.to == "ann@example.com"
        instance.mid.report(message.id, LogStatus.SENT, text="250 OK")
        sent = await instance.wait_status(pk, EventStatus.PROCESSED)
        assert sent.processed_at is not None
        assert sent.error_text is None
        rest = await instance.client.get(
            f"/acme/campaign/mcacme/EVTPASSWORD_RESET/{(1 << 56) | pk}",
            headers={"authorization": "Bearer mcsim-dev-token"},
        )
        assert rest.json()["status"] == "processed"


async def test_no_template_means_routing_failed(make: Any) -> None:
    async with make() as instance:
        pk = await instance.push()
        row = await instance.wait_status(pk, EventStatus.ROUTING_FAILED)
        assert "no published template for event type PASSWORD_RESET, channel email" in (
            row.error_text or ""
        )
        assert instance.mid.messages == {}


async def test_an_expired_event_is_too_old(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        pk = await instance.push(event_xml(expiration="2020-01-01 00:00:00.000Z"))
        row = await instance.wait_status(pk, EventStatus.TOO_OLD)
        assert "expired" in (row.error_text or "")
        assert instance.mid.messages == {}


async def test_a_render_error_fails_the_delivery_and_keeps_the_error(make: Any) -> None:
    async with make() as instance:
        content = {**EMAIL, "text": "line one\n<% throw new Error('no coupon left') %>"}
        await instance.publish(content=content)
        pk = await instance.push()
        row = await instance.wait_status(pk, EventStatus.DELIVERY_FAILED)
        assert "no coupon left" in (row.error_text or "")
        assert "line 2" in (row.error_text or "")


async def test_a_scheduled_event_waits_for_its_date(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        pk = await instance.push(event_xml(scheduled="2099-01-01 00:00:00.000Z"))
        await asyncio.sleep(0.3)
        assert instance.event(pk).status == EventStatus.PENDING
        assert instance.mid.messages == {}


async def test_mid_sourcing_down_retries_with_backoff_then_delivers(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        instance.mid.down = True
        pk = await instance.push()
        row = await instance.wait_for(pk, lambda e: e.error_count >= 2)
        assert row.status == EventStatus.PENDING
        assert "cannot be reached" in (row.error_text or "")
        instance.mid.down = False
        await instance.wait_status(pk, EventStatus.PROCESSING)
        assert instance.mid.message_for(pk).to == "ann@example.com"


async def test_hand_over_retries_end_as_too_old_after_the_validity(make: Any) -> None:
    async with make(validity_seconds=0.2) as instance:
        await instance.publish()
        instance.mid.down = True
        pk = await instance.push()
        row = await instance.wait_status(pk, EventStatus.TOO_OLD)
        assert "mid-sourcing unreachable" in (row.error_text or "")


async def test_a_fatal_error_from_mid_sourcing_fails_the_delivery(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        instance.mid.fatal = "the delivery part is malformed"
        pk = await instance.push()
        row = await instance.wait_status(pk, EventStatus.DELIVERY_FAILED)
        assert row.error_text == "the delivery part is malformed"


@pytest.mark.parametrize(
    ("log_status", "reason", "expected"),
    [
        (LogStatus.IGNORED, 9, EventStatus.IGNORED),
        (LogStatus.FAILED, 1, EventStatus.DELIVERY_FAILED),
    ],
)
async def test_delivery_logs_give_the_final_status(
    make: Any, log_status: LogStatus, reason: int, expected: EventStatus
) -> None:
    async with make() as instance:
        await instance.publish()
        pk = await instance.push()
        await instance.wait_status(pk, EventStatus.PROCESSING)
        instance.mid.report(
            instance.mid.message_for(pk).id,
            log_status,
            reason=reason,
            failure=FailureType.HARD,
            text="550 User unknown",
        )
        row = await instance.wait_status(pk, expected)
        assert row.failure_reason == reason
        assert row.error_text == "550 User unknown"


async def test_paused_templates_hold_events_until_resumed(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        paused = await instance.client.post("/_mc/templates/reset/pause", auth=ADMIN)
        assert paused.status_code == 200
        pk = await instance.push()
        await instance.wait_status(pk, EventStatus.PAUSED)
        assert instance.mid.messages == {}
        resumed = await instance.client.post("/_mc/templates/reset/resume", auth=ADMIN)
        assert resumed.json() == {"resumed": 1}
        await instance.wait_status(pk, EventStatus.PROCESSING)


async def test_the_newest_published_version_is_used_and_unpublish_stops_routing(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        first = await instance.push()
        await instance.wait_status(first, EventStatus.PROCESSING)
        await instance.publish(
            version=2, content={**EMAIL, "subject": "v2 for <%= rtEvent.ctx.firstName %>"}
        )
        second = await instance.push()
        await instance.wait_status(second, EventStatus.PROCESSING)
        assert instance.mid.message_for(first).subject.startswith("Reset")
        assert instance.mid.message_for(second).subject == "v2 for Ann"
        assert instance.event(second).template_version == 2
        unpublished = await instance.client.delete("/_mc/templates/reset", auth=ADMIN)
        assert unpublished.status_code == 204
        third = await instance.push()
        await instance.wait_status(third, EventStatus.ROUTING_FAILED)


async def test_publishing_the_same_version_twice_changes_nothing(make: Any) -> None:
    async with make() as instance:
        assert (await instance.publish()).json() == {"changed": True}
        assert (await instance.publish()).json() == {"changed": False}


async def test_a_template_with_a_syntax_error_is_refused_with_its_line(make: Any) -> None:
    async with make() as instance:
        answer = await instance.client.put(
            "/_mc/templates/broken",
            json={
                "event_type": "PASSWORD_RESET",
                "channel": 0,
                "version": 1,
                "content": {**EMAIL, "html": "<p>\n<% if (x { %>\n</p>"},
            },
            auth=ADMIN,
        )
        assert answer.status_code == 400
        assert "line 2" in answer.json()["message"]


async def test_real_time_events_go_before_batch_events(make: Any) -> None:
    async with make(workers=0) as instance:
        await instance.publish()
        batch = await instance.push(event_xml(element="batchEvent"), service="nms:batchEvent")
        realtime = await instance.push()
    async with make(claim_batch_size=1) as instance:
        await instance.publish()
        await instance.wait_status(batch, EventStatus.PROCESSING)
        parts = instance.mid.parts
        assert list(instance.mid.messages) == instance.mid.ids_of(realtime, batch)
        assert instance.mid.message_for(realtime).id.startswith("1-")
        assert len(parts) == 2


async def test_sms_and_push_messages_carry_their_fields(make: Any) -> None:
    async with make() as instance:
        await instance.publish(
            "sms", channel=1, content={"text": "Code for <%= rtEvent.ctx.firstName %>"}
        )
        await instance.publish(
            "push",
            channel=41,
            content={
                "title": "Hi",
                "body": "<%= rtEvent.ctx.firstName %>",
                "data": '{"screen": "reset"}',
            },
        )
        sms = await instance.push(event_xml(wishedChannel="1", mobilePhone="+447700900123"))
        push = await instance.push(
            event_xml(wishedChannel="41", registrationToken="tok123").replace(
                "<ctx>", '<mobileApp uuid="com.acme.app"/><ctx>'
            )
        )
        await instance.wait_status(push, EventStatus.PROCESSING)
        await instance.wait_status(sms, EventStatus.PROCESSING)
        text = instance.mid.message_for(sms)
        assert (text.channel, text.to, text.text) == ("sms", "+447700900123", "Code for Ann")
        note = instance.mid.message_for(push)
        assert (note.channel, note.to, note.app, note.title, note.text, note.data) == (
            "ios",
            "tok123",
            "com.acme.app",
            "Hi",
            "Ann",
            '{"screen": "reset"}',
        )


async def test_events_of_a_dead_worker_are_retaken_and_never_duplicated(make: Any) -> None:
    mid = FakeMid()
    async with make(mid=mid) as instance:
        await instance.publish()
        pk = await instance.push()
        await instance.wait_status(pk, EventStatus.PROCESSING)
        parts_before = list(mid.parts)
        # As if the worker died after mid-sourcing accepted the part but before it recorded
        # the hand-over: the event is still pending, held by a lease that has run out.
        with instance.app.state.db.transaction(write=True) as session:
            row = session.get(Event, pk)
            assert row is not None
            row.status = int(EventStatus.PENDING)
            row.claimed_by = "dead-worker"
            row.claimed_until = datetime.now(UTC) - timedelta(seconds=1)
        instance.app.state.execution.processor.notify()
        await instance.wait_for(
            pk, lambda e: e.status == EventStatus.PROCESSING and e.claimed_by is None
        )
        assert len(mid.parts) == len(parts_before) + 1  # the part was sent again …
        assert list(mid.messages) == mid.ids_of(pk)  # … with the same message id: no duplicate


async def test_a_trickle_of_events_costs_one_claim_each(make: Any) -> None:
    """A claim short of a batch took every due event: the worker waits for the next wake-up
    instead of claiming again for nothing (an empty claim per event at a steady trickle)."""
    async with make(idle_poll_seconds=30) as instance:
        await instance.publish()
        processor = instance.app.state.execution.processor
        claimed: list[int] = []
        claim = processor._claim

        def counted(worker: str) -> Any:
            events = claim(worker)
            claimed.append(len(events))
            return events

        processor._claim = counted
        for _ in range(3):
            pk = await instance.push()
            await instance.wait_status(pk, EventStatus.PROCESSING)
        await asyncio.sleep(0.3)
        assert claimed == [1, 1, 1]
