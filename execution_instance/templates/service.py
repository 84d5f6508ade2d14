"""Publish, unpublish, pause and resume templates; route an event to its template.

Publishing writes one row per queue (real time and batch, as Campaign creates two templates per
message on each execution instance). Routing picks, for the event's type, channel and queue, the
most recently published template, from an in-memory table of compiled templates that is re-read
every second and after every change: templates are compiled once per published version.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from execution_instance.intake.channels import Channel, EventStatus, Queue
from execution_instance.tables import Event, Template
from services.clock import utc_now
from services.db import Database
from services.errors import InvalidRequest, NotFound
from services.personalization import CompiledFields, compile_fields

__all__ = ["CHANNEL_FIELDS", "PublishedTemplate", "TemplateService"]

#: The content fields of each channel; every one is a personalizable template.
CHANNEL_FIELDS: dict[Channel, tuple[str, ...]] = {
    Channel.EMAIL: ("from_name", "from_address", "reply_to", "subject", "html", "text"),
    Channel.SMS: ("text",),
    Channel.IOS: ("title", "body", "data"),
    Channel.ANDROID: ("title", "body", "data"),
}


@dataclass(frozen=True)
class PublishedTemplate:
    """A template ready to render."""

    name: str
    queue: Queue
    event_type: str
    channel: Channel
    version: int
    paused: bool
    published_at: datetime
    fields: CompiledFields


def compile_content(
    name: str, version: int, channel: Channel, content: Mapping[str, str]
) -> CompiledFields:
    """Compile a template's fields; a syntax error names the field and its line."""
    allowed = CHANNEL_FIELDS[channel]
    unknown = sorted(set(content) - set(allowed))
    if unknown:
        raise InvalidRequest(
            f"unknown field(s) {', '.join(unknown)} for the {channel.name.lower()} channel",
            detail=f"allowed: {', '.join(allowed)}",
            field="content",
        )
    sources = {key: content.get(key, "") for key in allowed}
    return compile_fields(sources, name=f"{name} v{version}")  # TemplateSyntaxError: 400


class TemplateService:
    """The templates of one execution instance."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._routes: dict[tuple[str, int, int], PublishedTemplate] = {}
        self._compiled: dict[tuple[str, int, int], CompiledFields] = {}
        self._lock = threading.Lock()

    # -- routing ------------------------------------------------------------------------------
    def route(self, event_type: str, channel: Channel, queue: Queue) -> PublishedTemplate | None:
        """Return the most recently published template for the event, or None."""
        return self._routes.get((event_type, int(channel), int(queue)))

    def refresh(self) -> None:
        """Re-read the published templates, compiling only versions not seen before."""
        with self.db.transaction() as session:
            rows = list(session.execute(select(Template).order_by(Template.published_at)).scalars())
        routes: dict[tuple[str, int, int], PublishedTemplate] = {}
        compiled: dict[tuple[str, int, int], CompiledFields] = {}
        for row in rows:
            key = (row.name, row.queue, row.version)
            fields = self._compiled.get(key)
            if fields is None:
                fields = compile_content(
                    row.name, row.version, Channel(row.channel), json.loads(row.content)
                )
            compiled[key] = fields
            # Later rows (more recent publication) replace earlier ones for the same route.
            routes[(row.event_type, row.channel, row.queue)] = PublishedTemplate(
                name=row.name,
                queue=Queue(row.queue),
                event_type=row.event_type,
                channel=Channel(row.channel),
                version=row.version,
                paused=row.paused,
                published_at=row.published_at,
                fields=fields,
            )
        with self._lock:
            self._routes, self._compiled = routes, compiled

    def list(self) -> list[dict[str, object]]:
        """Describe the published templates (for the control plane)."""
        with self.db.transaction() as session:
            rows = session.execute(select(Template).order_by(Template.name, Template.queue))
            return [
                {
                    "name": row.name,
                    "queue": Queue(row.queue).name.lower(),
                    "event_type": row.event_type,
                    "channel": int(row.channel),
                    "version": row.version,
                    "paused": row.paused,
                    "published_at": row.published_at.isoformat(),
                }
                for row in rows.scalars()
            ]

    # -- publishing ---------------------------------------------------------------------------
    def publish(
        self,
        *,
        name: str,
        event_type: str,
        channel: Channel,
        version: int,
        content: Mapping[str, str],
        queues: Sequence[Queue] = (Queue.REALTIME, Queue.BATCH),
    ) -> bool:
        """Publish a version (idempotent: the same version again changes nothing).

        Return whether anything changed.
        """
        compile_content(name, version, channel, content)
        body = json.dumps(dict(content), sort_keys=True)
        now = utc_now()
        changed = False
        with self.db.transaction(write=True) as session:
            for queue in queues:
                row = session.execute(
                    select(Template).where(Template.name == name, Template.queue == int(queue))
                ).scalar_one_or_none()
                if row is not None and row.version == version and row.content == body:
                    continue
                changed = True
                if row is None:
                    row = Template(name=name, queue=int(queue))
                    session.add(row)
                row.event_type, row.channel, row.version = event_type, int(channel), version
                row.content, row.published_at, row.paused = body, now, False
        if changed:
            self.refresh()
        return changed

    def unpublish(self, *, name: str) -> None:
        """Remove a template from every queue; its events will fail routing."""
        with self.db.transaction(write=True) as session:
            removed = session.execute(delete(Template).where(Template.name == name))
        if not removed.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"no template {name!r} is published on this instance")
        self.refresh()

    def set_paused(self, *, name: str, paused: bool) -> int:
        """Pause or resume a template; resuming puts its paused events back in the queue.

        Return how many events were resumed.
        """
        resumed = 0
        with self.db.transaction(write=True) as session:
            rows = list(session.execute(select(Template).where(Template.name == name)).scalars())
            if not rows:
                raise NotFound(f"no template {name!r} is published on this instance")
            for row in rows:
                row.paused = paused
            if not paused:
                result = session.execute(
                    update(Event)
                    .where(Event.status == int(EventStatus.PAUSED), Event.template_name == name)
                    .values(status=int(EventStatus.PENDING), next_attempt_at=utc_now())
                )
                resumed = result.rowcount  # type: ignore[attr-defined]
        self.refresh()
        return resumed
