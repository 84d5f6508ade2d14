"""The virtual clock on an execution instance (issue 16 item 4): ``/_mc/clock`` moves the
instance's "now" for everything that depends on it — scheduled events become due, expirations
pass, sessions expire — survives a restart, and is refused in production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from execution_instance.app import create_app
from execution_instance.intake.channels import EventStatus
from execution_instance.processing.claims import claim_due
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from services.clock import clock, utc_now
from services.dev_credentials import CONTROL_PLANE
from services.xtk import format_xtk
from tests.integration.execution.conftest import InstanceFactory, add_event, soap
from tests.support.asgi import serve
from tests.support.soap import event_xml, fault_of, logon_envelope, outputs_of, push_event_envelope

PUSH = "nms:rtEvent#PushEvent"


def _in(delta: timedelta) -> str:
    return format_xtk(datetime.now(UTC) + delta)


async def _move(client: httpx.AsyncClient, **change: Any) -> httpx.Response:
    return await client.post("/_mc/clock", json=change, auth=CONTROL_PLANE)


async def test_a_scheduled_event_is_sent_when_the_clock_reaches_its_date(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        later = await instance.push(event_xml(scheduled=_in(timedelta(hours=3))))
        due = await instance.push(event_xml(scheduled=_in(timedelta(hours=2))))
        moved = await _move(instance.client, advance="2h 1m")
        assert moved.status_code == 200, moved.text
        assert moved.json()["offsetSeconds"] == 7260
        assert moved.json()["moved"] is True
        await instance.wait_status(due, EventStatus.PROCESSING)
        # The workers took what was due, and nothing that is not yet.
        assert instance.event(later).status == EventStatus.PENDING
        assert set(instance.mid.messages) == {instance.mid.message_for(due).id}


async def test_an_expiration_passes_when_the_clock_moves_beyond_it(make: Any) -> None:
    async with make() as instance:
        await instance.publish()
        pk = await instance.push(
            event_xml(scheduled=_in(timedelta(hours=1)), expiration=_in(timedelta(hours=2)))
        )
        assert (await _move(instance.client, advance="3h")).status_code == 200
        row = await instance.wait_status(pk, EventStatus.TOO_OLD)
        assert "expired" in (row.error_text or "")
        assert instance.mid.messages == {}


async def test_a_session_expires_when_the_clock_passes_its_lifetime(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance(session_ttl_seconds=600) as client:
        logon = await soap(client, logon_envelope("mc", "mc"), action="xtk:session#Logon")
        session = outputs_of(logon.content, "pstrSessionToken")[0]
        ok = await soap(client, push_event_envelope(token=session), action=PUSH)
        assert ok.status_code == 200, ok.text
        assert (await _move(client, advance="9m")).status_code == 200
        still = await soap(client, push_event_envelope(token=session), action=PUSH)
        assert still.status_code == 200, still.text
        assert (await _move(client, advance="2m")).status_code == 200
        late = await soap(client, push_event_envelope(token=session), action=PUSH)
    assert fault_of(late.content)["faultstring"].startswith("XSV-350008")


async def test_the_clock_survives_a_restart_and_goes_back_to_real_time(tmp_path: Path) -> None:
    settings = ExecutionSettings(data_dir=tmp_path, workers=0)
    async with serve(create_app(settings)) as client:
        target = datetime.now(UTC) + timedelta(days=2)
        moved = await _move(client, to=target.isoformat())
        assert moved.status_code == 200, moved.text
        assert abs(moved.json()["offsetSeconds"] - 172_800) < 5
    clock.apply(timedelta(0))  # a new process starts on real time...
    async with serve(create_app(settings)) as client:
        shown = (await client.get("/_mc/clock", auth=CONTROL_PLANE)).json()
        assert abs(shown["offsetSeconds"] - 172_800) < 5  # ...and reads the stored offset
        health = (await client.get("/health")).json()
        assert health["clock_offset_s"] == shown["offsetSeconds"]
        back = await _move(client, reset=True)
        assert back.json()["offsetSeconds"] == 0
        assert back.json()["moved"] is False


async def test_wrong_changes_are_refused_and_change_nothing(
    make_instance: InstanceFactory,
) -> None:
    async with make_instance() as client:
        cases = [
            ({"advance": "soon"}, "is not a duration"),
            ({"advance": "0s"}, "more than zero"),
            ({"to": "2001-01-01T00:00:00Z"}, "before the real time"),
            ({"advance": "20000d"}, "at most 3650 days"),
            ({"advance": "1h", "reset": True}, "exactly one"),
            ({"to": "2030-01-01T00:00:00"}, "timezone"),
        ]
        for change, message in cases:
            answer = await _move(client, **change)
            assert answer.status_code in (400, 422), (change, answer.text)
            assert message in answer.text, (change, answer.text)
        anonymous = await client.post("/_mc/clock", json={"advance": "1h"})
        assert anonymous.status_code == 401
        shown = (await client.get("/_mc/clock", auth=CONTROL_PLANE)).json()
        assert shown["offsetSeconds"] == 0


async def test_production_refuses_to_move_the_clock(make_instance: InstanceFactory) -> None:
    production = {
        "environment": "production",
        "control_password": "a-long-control-password",
        "operators": {"mc": "a-long-operator-password"},
    }
    async with make_instance(**production) as client:
        answer = await client.post(
            "/_mc/clock", json={"advance": "1h"}, auth=(CONTROL_PLANE[0], "a-long-control-password")
        )
    assert answer.status_code == 403, answer.text
    assert "refused in production" in answer.json()["message"]


async def test_a_worker_keeps_its_lease_when_the_clock_jumps(
    make_instance: InstanceFactory,
) -> None:
    """A lease measures how long a worker may hold its events: were it to end because the
    clock moved, another process would take the events the first is still handing over."""
    async with make_instance() as client:
        db = client._transport.app.state.db  # type: ignore[attr-defined]
        lease_end = datetime.now(UTC) + timedelta(seconds=60)
        held = add_event(db, claimed_by="w1", claimed_until=lease_end)
        free = add_event(db)
        assert (await _move(client, advance="2h")).status_code == 200
        with db.transaction(write=True) as session:
            taken = claim_due(
                session, worker="w2", now=utc_now(), limit=10, lease=30, postgres=False
            )
            row = session.get(Event, held)
            assert row is not None
            assert row.claimed_until == lease_end + timedelta(hours=2)
        assert [event.id for event in taken] == [free]
