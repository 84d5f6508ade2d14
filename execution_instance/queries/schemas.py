"""The schemas an execution instance answers queries on: its two event queues and event types.

``nms:rtEvent`` and ``nms:batchEvent`` are the events table, one queue each; ``@id`` is the
event's key on this instance, the plId without its high byte (what Adobe's sample 600 queries).
``xtk:enumValue`` lists the event types published here as the values of enumeration
``eventType`` (``[enum/@name]='eventType'``). Event types have no numeric key: their ``@id`` is
their rank by publication (date, then name), which a new type never changes but removing one
does.
"""

from __future__ import annotations

from sqlalchemy import String, and_, func, literal, or_, select

from execution_instance.intake.channels import Queue
from execution_instance.tables import Event, EventType
from services.xtk_query import Attribute, Schema, SchemaMap, XtkType

__all__ = ["build_schemas", "event_attributes"]

_T = XtkType


def event_attributes() -> dict[str, Attribute]:
    """Return the attributes of an event, by their Campaign names (DESIGN §3.1, §3.5)."""
    events = Event.__table__
    return {
        "@id": Attribute(_T.INT64, events.c.id),
        "@status": Attribute(_T.SHORT, events.c.status),
        "@type": Attribute(_T.STRING, events.c.event_type),
        "@email": Attribute(_T.STRING, events.c.email),
        "@mobilePhone": Attribute(_T.STRING, events.c.mobile_phone),
        "@externalId": Attribute(_T.STRING, events.c.external_id),
        "@wishedChannel": Attribute(_T.SHORT, events.c.wished_channel),
        "@origin": Attribute(_T.STRING, events.c.origin),
        "@language": Attribute(_T.STRING, events.c.language),
        "@country": Attribute(_T.STRING, events.c.country),
        "@emailFormat": Attribute(_T.SHORT, events.c.email_format),
        "@scheduled": Attribute(_T.DATETIME, events.c.scheduled),
        "@expiration": Attribute(_T.DATETIME, events.c.expiration),
        "@created": Attribute(_T.DATETIME, events.c.created_at),
        "@lastModified": Attribute(
            _T.DATETIME, func.coalesce(events.c.updated_at, events.c.created_at)
        ),
        "@processing": Attribute(_T.DATETIME, events.c.processing_at),
        "@processed": Attribute(_T.DATETIME, events.c.processed_at),
        "@errorCount": Attribute(_T.LONG, events.c.error_count),
        "@failureReason": Attribute(_T.SHORT, events.c.failure_reason),
        "@errorText": Attribute(_T.STRING, events.c.error_text),
        "@template": Attribute(_T.STRING, events.c.template_name),
        "@deliveryPart": Attribute(_T.STRING, events.c.delivery_part),
    }


def _event_schema(queue: Queue) -> Schema:
    return Schema(
        name=queue.schema,
        source=Event.__table__,
        attributes=event_attributes(),
        key=(Event.__table__.c.id,),
        where=Event.__table__.c.queue == int(queue),
        not_found_hint="@id is the event's key on this instance: its plId without the high "
        "byte (plId & 0xFFFFFFFFFFFFFF)",
    )


def _event_types_schema() -> Schema:
    types = EventType.__table__
    other = types.alias("earlier")
    rank = (
        select(func.count())
        .select_from(other)
        .where(
            or_(
                other.c.created_at < types.c.created_at,
                and_(other.c.created_at == types.c.created_at, other.c.name <= types.c.name),
            )
        )
        .correlate(types)
        .scalar_subquery()
    )
    return Schema(
        name="xtk:enumValue",
        source=types,
        attributes={
            "@id": Attribute(_T.LONG, rank),
            "@name": Attribute(_T.STRING, types.c.name),
            "@label": Attribute(_T.STRING, types.c.label),
            "@created": Attribute(_T.DATETIME, types.c.created_at),
            "enum/@name": Attribute(_T.STRING, literal("eventType", String)),
        },
        key=(types.c.created_at, types.c.name),
    )


def build_schemas() -> SchemaMap:
    """Return the schemas of an execution instance."""
    return SchemaMap(
        [_event_schema(Queue.REALTIME), _event_schema(Queue.BATCH), _event_types_schema()]
    )
