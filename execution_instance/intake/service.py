"""Use cases of event intake: know the event types, refuse work when full, store events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from execution_instance.identity import Identity
from execution_instance.intake.channels import EventStatus
from execution_instance.intake.documents import EventIn
from execution_instance.intake.writer import EventWriter
from execution_instance.tables import Event, EventType
from services.clock import utc_now
from services.db import Database
from services.errors import Overloaded
from services.plid import instance_of, make_pl_id, pk_of

__all__ = ["IntakeService", "pl_id", "split_pl_id"]


def pl_id(instance_id: int, pk: int) -> int:
    """Return Campaign's event id: the instance id in the high byte, the pk below."""
    return make_pl_id(instance_id, pk)


def split_pl_id(value: int) -> tuple[int, int]:
    """Return (instance id, pk) of an event id."""
    return instance_of(value), pk_of(value)


class IntakeService:
    """Accept validated events into the queues of one execution instance."""

    def __init__(
        self,
        db: Database,
        writer: EventWriter,
        *,
        identity: Identity,
        queue_warning: int,
        queue_hard_limit: int,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.writer = writer
        self.identity = identity
        self.queue_warning = queue_warning
        self.queue_hard_limit = queue_hard_limit
        self.on_stored = on_stored
        self._types: frozenset[str] = frozenset()
        self._pending = 0

    @property
    def instance_id(self) -> int:
        """Return this instance's id (the top byte of every plId)."""
        return self.identity.value

    # -- what requests read from memory; refresh() re-reads it -------------------------------
    def refresh(self) -> None:
        """Re-read the event types and re-count pending events."""
        with self.db.transaction() as session:
            self._types = frozenset(session.execute(select(EventType.name)).scalars())
            self.count_pending(session)

    def count_pending(self, session: Session) -> None:
        """Re-count the pending events (every second, in a thread)."""
        self._pending = session.execute(
            select(func.count()).select_from(Event).where(Event.status == EventStatus.PENDING)
        ).scalar_one()

    def known_types(self) -> frozenset[str]:
        """Return the event types published to this instance."""
        return self._types

    def pending(self, *, fresh: bool = False) -> int:
        """Return how many events wait in the queues (``fresh`` re-counts them now)."""
        if fresh:
            self.refresh()
        return self._pending

    def add_event_types(self, names: Sequence[tuple[str, str]]) -> None:
        """Make event types known (name, label); existing ones keep their creation date."""
        now = utc_now()
        with self.db.transaction(write=True) as session:
            for name, label in names:
                row = session.get(EventType, name)
                if row is None:
                    session.add(EventType(name=name, label=label, created_at=now))
                else:
                    row.label = label
        self.refresh()

    def remove_event_type(self, name: str) -> bool:
        """Forget an event type; its queued events stay and fail routing."""
        with self.db.transaction(write=True) as session:
            row = session.get(EventType, name)
            if row is not None:
                session.delete(row)
        self.refresh()
        return row is not None

    def check_capacity(self, incoming: int) -> None:
        """Refuse new events when the queue is above its hard limit."""
        pending = self.pending()
        if pending + incoming > self.queue_hard_limit:
            raise Overloaded(
                f"the event queue is full ({pending}/{self.queue_hard_limit} pending events)",
                detail="the execution instance refuses new events until its queue drains; "
                "retry later or on another instance",
            )

    # -- storing ----------------------------------------------------------------------------
    async def push(
        self,
        events: Sequence[EventIn],
        *,
        source: str,
        idempotency: tuple[str, str] | None = None,
        now: datetime | None = None,
    ) -> list[int]:
        """Store ``events`` durably in one transaction and return their plIds, in order.

        ``idempotency`` is an (Idempotency-Key, request digest) pair kept on the first event;
        ``now`` their creation date (default: now), for a caller that shows what was stored
        without reading it back (:func:`event_row`).
        """
        now = now or utc_now()
        rows = [event_row(event, now=now, source=source) for event in events]
        if idempotency is not None:
            rows[0]["idempotency_key"], rows[0]["request_digest"] = idempotency
        ids = await self.writer.write(rows)
        self._pending += len(ids)
        if self.on_stored is not None:
            self.on_stored()
        return [pl_id(self.instance_id, pk) for pk in ids]


def event_row(event: EventIn, *, now: datetime, source: str) -> dict[str, Any]:
    """Return the stored values of a new event (the ``events`` row, its id apart)."""
    return {
        "queue": int(event.queue),
        "event_type": event.event_type,
        "status": int(EventStatus.PENDING),
        "wished_channel": int(event.channel),
        "email": event.email,
        "mobile_phone": event.mobile_phone,
        "push_token": event.push_token,
        "mobile_app": event.mobile_app,
        "external_id": event.external_id,
        "origin": event.origin,
        "language": event.language,
        "country": event.country,
        "email_format": event.email_format,
        "scheduled": event.scheduled,
        "expiration": event.expiration,
        "document": event.document,
        "source": source,
        "idempotency_key": None,
        "request_digest": None,
        "created_at": now,
        "next_attempt_at": event.scheduled or now,
        "error_count": 0,
    }
