"""Put events on in-process execution instances and move them through their statuses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import update

from execution_instance.intake.channels import Channel, EventStatus, Queue
from execution_instance.intake.documents import EventIn
from execution_instance.processing import claims
from execution_instance.state import ExecutionState
from execution_instance.tables import Event
from tests.integration.control.conftest import Cell, exec_url

PK_MASK = (1 << 56) - 1


def instance(cell: Cell, number: int) -> ExecutionState:
    """Return the running state of execution instance ``number``."""
    state: ExecutionState = cell.apps[exec_url(number)].state.execution
    return state


async def push(
    cell: Cell,
    number: int,
    *,
    count: int = 1,
    event_type: str = "ORDER_CONFIRMATION",
    queue: Queue = Queue.REALTIME,
    channel: Channel = Channel.EMAIL,
) -> list[int]:
    """Store ``count`` events on an instance through its intake; return their plIds."""
    events = []
    for _ in range(count):
        tag = uuid.uuid4().hex[:10]
        events.append(
            EventIn(
                queue=queue,
                event_type=event_type,
                channel=channel,
                email=f"{tag}@example.com",
                mobile_phone=None,
                push_token=None,
                mobile_app=None,
                external_id=f"ext-{tag}",
                origin=None,
                language=None,
                country=None,
                email_format=0,
                scheduled=None,
                expiration=None,
                document=f'<rtEvent type="{event_type}" email="{tag}@example.com">'
                f"<ctx><name>&lt;script&gt;{tag}</name></ctx></rtEvent>",
            )
        )
    return await instance(cell, number).intake.push(events, source="soap")


def hand_over(cell: Cell, number: int, pl_ids: list[int]) -> None:
    """Claim the events and mark them handed to mid-sourcing (status processing)."""
    db = instance(cell, number).db
    now = datetime.now(UTC)
    with db.transaction(write=True) as session:
        claimed = claims.claim_due(
            session, worker="test", now=now, limit=1000, lease=60, postgres=False
        )
        wanted = {pk & PK_MASK for pk in pl_ids}
        handed = [(e.id, "tpl", 1) for e in claimed if e.id in wanted]
        claims.mark_handed_over(session, handed, part_id="part-1", worker="test", now=now)
        rest = [e.id for e in claimed if e.id not in wanted]
        if rest:
            claims.reschedule(session, rest, worker="test", at=now, error="not this time")


def finish(cell: Cell, number: int, pl_ids: list[int], status: EventStatus) -> None:
    """Give events a final status through the processor's writer (as the worker holding them)."""
    db = instance(cell, number).db
    now = datetime.now(UTC)
    pks = [pk & PK_MASK for pk in pl_ids]
    with db.transaction(write=True) as session:
        session.execute(update(Event).where(Event.id.in_(pks)).values(claimed_by="test"))
        claims.record_finished(
            session,
            [claims.Finished(event_id=pk, status=status, error="x", at=now) for pk in pks],
            worker="test",
        )
