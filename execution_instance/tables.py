"""Tables of the execution instance's database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.clock import utc_now
from services.db import UtcDateTime, make_metadata, service_meta_table

__all__ = [
    "Base",
    "Event",
    "EventType",
    "Operator",
    "SessionToken",
    "TechnicalToken",
    "Template",
    "config_version",
    "event_minutes",
    "event_minutes_cursor",
    "service_meta",
]


def _utc_now() -> datetime:
    return utc_now()


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of the execution instance's tables."""

    metadata = make_metadata()


service_meta = service_meta_table(Base.metadata)

#: Finished events counted by the minutes of their times (``execution_instance.minutes``): one
#: row per status and combination of minutes, for the events last changed in ``minute``.
event_minutes = Table(
    "event_minutes",
    Base.metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("minute", UtcDateTime, nullable=False, index=True),  # of updated_at
    Column("status", SmallInteger, nullable=False),
    Column("created_minute", UtcDateTime, nullable=False),
    Column("claimed_minute", UtcDateTime),  # of processing_at
    Column("finished_minute", UtcDateTime, nullable=False),  # of processed_at, else updated_at
    Column("left_minute", UtcDateTime, nullable=False),  # when the event left the queue
    Column("events", Integer, nullable=False),
    Column("claimed", Integer, nullable=False),  # events with a processing_at
    Column("queuing_seconds", Float),  # their processing_at - created_at
    Column("delivered", Integer, nullable=False),  # sent events with a processed_at
    Column("sending_seconds", Float),  # their processed_at - processing_at
    Column("processing_seconds", Float),  # their processed_at - created_at
)

#: One row (id 1): the minutes counted into ``event_minutes`` are ``[first_minute, until)``;
#: both empty until the first count.
event_minutes_cursor = Table(
    "event_minutes_cursor",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("first_minute", UtcDateTime),
    Column("until", UtcDateTime),
)

#: One row (id 1) whose ``version`` the database's triggers move on every change of the
#: configuration (migration e0006): processes re-read their caches when it moved.
config_version = Table(
    "config_version",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)


class EventType(Base):
    """An event type published to this instance (Campaign's ``eventType`` enumeration)."""

    __tablename__ = "event_types"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Event(Base):
    """One received event, real-time or batch (one table, so that every pk is one plId)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    queue: Mapped[int] = mapped_column(SmallInteger)  # 0 real time, 1 batch
    event_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
    wished_channel: Mapped[int] = mapped_column(SmallInteger, default=0)
    email: Mapped[str | None] = mapped_column(String(320))
    mobile_phone: Mapped[str | None] = mapped_column(String(32))
    push_token: Mapped[str | None] = mapped_column(String(4096))
    mobile_app: Mapped[str | None] = mapped_column(String(255))
    external_id: Mapped[str | None] = mapped_column(String(255))
    origin: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(64))
    email_format: Mapped[int] = mapped_column(SmallInteger, default=0)
    scheduled: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expiration: Mapped[datetime | None] = mapped_column(UtcDateTime)
    document: Mapped[str] = mapped_column(Text)  # the event element as received, ctx included
    source: Mapped[str] = mapped_column(String(8))  # soap or rest
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_digest: Mapped[str | None] = mapped_column(String(64))  # of an idempotent POST
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processing_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    failure_reason: Mapped[int | None] = mapped_column(SmallInteger)
    error_text: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # worker holding the event
    claimed_until: Mapped[datetime | None] = mapped_column(UtcDateTime)  # its lease
    template_name: Mapped[str | None] = mapped_column(String(128))
    template_version: Mapped[int | None] = mapped_column(Integer)
    delivery_part: Mapped[str | None] = mapped_column(String(64))
    # Set on every insert and update (a column default, so no writer can forget it): the
    # archiving cursor of GET /_mc/events follows it to catch every status change.
    updated_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, default=_utc_now, onupdate=_utc_now
    )

    __table_args__ = (
        Index("ix_events_claim", "status", "queue", "next_attempt_at"),
        Index("ix_events_updated_at", "updated_at", "id"),
        Index("ix_events_idempotency_key", "idempotency_key", unique=True),
        Index("ix_events_created_at", "created_at"),
    )


class Template(Base):
    """A published transactional template: one row per queue (Campaign publishes rt and batch)."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(EventId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    queue: Mapped[int] = mapped_column(SmallInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[int] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(Integer)
    paused: Mapped[bool] = mapped_column(default=False)
    content: Mapped[str] = mapped_column(Text)  # JSON: the channel's fields
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index("ix_templates_name_queue", "name", "queue", unique=True),
        Index("ix_templates_route", "event_type", "channel", "queue", "published_at"),
    )


class Operator(Base):
    """An operator allowed to call this instance (``mc`` by default), with its argon2 hash."""

    __tablename__ = "operators"

    login: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionToken(Base):
    """A session opened by ``xtk:session#Logon``; tokens are stored by SHA-256 digest."""

    __tablename__ = "session_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_digest: Mapped[str] = mapped_column(String(64))
    login: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class TechnicalToken(Base):
    """A bearer token for server-to-server calls (Campaign v8.5 IMS technical accounts)."""

    __tablename__ = "technical_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(255))
    login: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
