"""Tables of the mid service's database.

``messages`` is both the delivery queue and the capture store: a row is queued when its part
is accepted, claimed by a worker (``sending``, its lease in ``next_attempt_at``), and ends
``sent``, ``failed`` or ``ignored``; it stays readable through ``/api/v1/messages`` until
retention removes it. ``message_keys`` remembers accepted message ids longer than that, so a
part sent again never duplicates a message. ``delivery_logs`` is what execution instances pull
(``seq`` is the cursor); ``addresses`` is the quarantine (Campaign's NmsAddress).
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, Boolean, Index, Integer, SmallInteger, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.db import UtcDateTime, make_metadata, service_meta_table

__all__ = [
    "Address",
    "Base",
    "DeliveryLogRow",
    "DeliveryPartRow",
    "Message",
    "MessageKey",
    "SessionToken",
    "delivery_logs_table",
    "delivery_parts_table",
    "message_keys_table",
    "messages_table",
    "service_meta",
]

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of the mid service's tables."""

    metadata = make_metadata()


service_meta = service_meta_table(Base.metadata)


class DeliveryPartRow(Base):
    """A delivery part accepted once: its id is the caller's, ``id`` is ``deliveryPartId``."""

    __tablename__ = "delivery_parts"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    part_key: Mapped[str] = mapped_column(String(255), unique=True)
    instance: Mapped[int] = mapped_column(SmallInteger)
    queue: Mapped[str] = mapped_column(String(16))
    message_count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)

    __table_args__ = ({"sqlite_autoincrement": True},)


class MessageKey(Base):
    """A message id accepted once, in any part (kept for the dedupe window)."""

    __tablename__ = "message_keys"

    message_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    part_id: Mapped[int] = mapped_column(BigInteger)
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Message(Base):
    """One message: queued, being sent, or finished and captured."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    part_id: Mapped[int] = mapped_column(BigInteger)
    instance: Mapped[int] = mapped_column(SmallInteger)  # event_id >> 56; 0 for proofs
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(Text)
    proof: Mapped[bool] = mapped_column(Boolean)
    template_version: Mapped[int] = mapped_column(Integer)
    from_name: Mapped[str] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    app: Mapped[str] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8))  # queued sending sent failed ignored
    tries: Mapped[int] = mapped_column(SmallInteger)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the lease while sending
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    failure_type: Mapped[str] = mapped_column(String(8))
    failure_reason: Mapped[int] = mapped_column(SmallInteger)
    result_text: Mapped[str] = mapped_column(Text)
    forwarded: Mapped[str] = mapped_column(Text)  # what the webhook answered, if any
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # first opened in the mailbox

    __table_args__ = (
        Index("ix_messages_claim", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )


class DeliveryLogRow(Base):
    """What happened to one message at one moment; execution instances read them by ``seq``."""

    __tablename__ = "delivery_logs"

    seq: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[int] = mapped_column(BigInteger)
    instance: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(8))
    failure_type: Mapped[str] = mapped_column(String(8))
    failure_reason: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    tries: Mapped[int] = mapped_column(SmallInteger)

    # AUTOINCREMENT: a seq is never reused, even after retention emptied the table.
    __table_args__ = (
        Index("ix_delivery_logs_instance_seq", "instance", "seq"),
        {"sqlite_autoincrement": True},
    )


class Address(Base):
    """An address with delivery errors or in quarantine (Campaign's NmsAddress)."""

    __tablename__ = "addresses"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # of the normalised address
    address: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), index=True)  # withErrors or quarantine
    failure_type: Mapped[str] = mapped_column(String(8))
    failure_reason: Mapped[int] = mapped_column(SmallInteger)
    error_count: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    first_error_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SessionToken(Base):
    """A session opened by ``xtk:session#Logon``; tokens are stored by SHA-256 digest."""

    __tablename__ = "session_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    security_digest: Mapped[str] = mapped_column(String(64))
    login: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


# The tables themselves, for Core statements on the delivery path (no ORM bookkeeping per row).
messages_table = cast(Table, Message.__table__)
delivery_parts_table = cast(Table, DeliveryPartRow.__table__)
message_keys_table = cast(Table, MessageKey.__table__)
delivery_logs_table = cast(Table, DeliveryLogRow.__table__)
