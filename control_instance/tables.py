"""Tables of the control service's database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.db import UtcDateTime, make_metadata, service_meta_table

__all__ = [
    "Account",
    "ArchiveCursor",
    "ArchivedEvent",
    "AuthToken",
    "Base",
    "CellOperator",
    "Deployment",
    "EventType",
    "ImsSigningKey",
    "Operator",
    "Proof",
    "Removal",
    "Seed",
    "TechnicalAccount",
    "TechnicalAccountSecret",
    "TechnicalToken",
    "Template",
    "TemplateVersion",
    "service_meta",
]


class Base(DeclarativeBase):
    """Declarative base of the control service's tables."""

    metadata = make_metadata()


service_meta = service_meta_table(Base.metadata)


class Operator(Base):
    """A console and API user of the control instance, with one role."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin, editor, viewer
    password_hash: Mapped[str] = mapped_column(String(255))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuthToken(Base):
    """A bearer token or a console session, stored by digest."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # bearer or session
    csrf_digest: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Account(Base):
    """An execution instance as an external account (campaign-facts §4.6)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str] = mapped_column(String(1024))
    login: Mapped[str] = mapped_column(String(64))
    password_secret: Mapped[str] = mapped_column(Text)  # encrypted, see control_instance.secrets
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    instance_id: Mapped[int | None] = mapped_column(SmallInteger, unique=True)
    last_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_check_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EventType(Base):
    """An event type (Campaign's ``eventType`` enumeration value)."""

    __tablename__ = "event_types"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Template(Base):
    """A transactional message template for one event type and one channel."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    event_type_id: Mapped[int] = mapped_column(ForeignKey("event_types.id"), index=True)
    channel: Mapped[int] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(String(16))  # being_edited, published, paused
    content: Mapped[str] = mapped_column(Text)  # the draft, a JSON object of fields
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class TemplateVersion(Base):
    """One publication of a template: the content every instance received."""

    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(255), default="")
    published_at: Mapped[datetime] = mapped_column(UtcDateTime)
    published_by: Mapped[str] = mapped_column(String(64), default="")


class Deployment(Base):
    """What the last control-plane call left on one instance for one template."""

    __tablename__ = "deployments"

    template_id: Mapped[int] = mapped_column(
        ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    action: Mapped[str] = mapped_column(String(16))  # publish, unpublish, pause, resume, sync
    version: Mapped[int | None] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class Seed(Base):
    """A seed address of a template: who receives proofs, and the ctx previews render."""

    __tablename__ = "seeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("templates.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(4096))
    external_id: Mapped[str] = mapped_column(String(255), default="")
    ctx: Mapped[str] = mapped_column(Text, default="<ctx/>")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Proof(Base):
    """A proof sent to a seed address (Campaign lists them under the Audit tab)."""

    __tablename__ = "proofs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("templates.id", ondelete="CASCADE"), index=True
    )
    seed_label: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(4096))
    message_id: Mapped[str] = mapped_column(String(64))
    part_id: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_by: Mapped[str] = mapped_column(String(64))


class CellOperator(Base):
    """An operator of the execution cell (``mc``…), pushed to every execution instance."""

    __tablename__ = "cell_operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    password_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TechnicalToken(Base):
    """A bearer technical token of the execution cell, pushed to every execution instance."""

    __tablename__ = "technical_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(String(255), default="")
    login: Mapped[str] = mapped_column(String(64))
    token_secret: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Removal(Base):
    """Something deleted on the control instance that sync must delete on every instance too."""

    __tablename__ = "removals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # event_type, operator, token
    key: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str | None] = mapped_column(Text)
    removed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ArchivedEvent(Base):
    """An event of an execution instance, archived with its outcome (Campaign's NmsEventHisto)."""

    __tablename__ = "archived_events"

    pl_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: history outlives
    instance_id: Mapped[int] = mapped_column(SmallInteger)
    queue: Mapped[str] = mapped_column(String(8))  # rt or batch
    event_type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[int] = mapped_column(SmallInteger)
    email: Mapped[str | None] = mapped_column(String(320))
    mobile_phone: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(255))
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    processing_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    failure_reason: Mapped[int | None] = mapped_column(SmallInteger)
    error_text: Mapped[str | None] = mapped_column(Text)
    template_name: Mapped[str | None] = mapped_column(String(128))
    template_version: Mapped[int | None] = mapped_column(Integer)
    delivery_part: Mapped[str | None] = mapped_column(String(64))
    archived_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # The history search counts, orders (newest first) and pages on these alone: each
        # filter's index ends with the order's columns (control_instance.archive.history).
        Index("ix_archived_events_created", "created_at", "pl_id"),
        Index("ix_archived_events_email", "email"),
        Index("ix_archived_events_external_id", "external_id"),
        Index("ix_archived_events_type_created", "event_type", "created_at", "pl_id"),
        Index("ix_archived_events_status_created", "status", "created_at", "pl_id"),
        Index("ix_archived_events_channel_created", "channel", "created_at", "pl_id"),
        Index("ix_archived_events_instance_created", "instance_id", "created_at", "pl_id"),
    )


class ArchiveCursor(Base):
    """How far archiving has read one execution instance's events (``/_mc/events`` cursor)."""

    __tablename__ = "archive_cursors"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    cursor: Mapped[str] = mapped_column(String(80), default="")
    archived: Mapped[int] = mapped_column(Integer, default=0)  # rows written, updates included
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class TechnicalAccount(Base):
    """An Adobe Developer Console technical account (OAuth server-to-server credential).

    Its client id and secrets are exchanged at ``POST /ims/token/v3`` for an access token that
    the execution instances verify with the published keys (DESIGN §3.2a).
    """

    __tablename__ = "technical_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    #: The technical account's IMS user id (``…@techacct.adobe.com``): the caller's login.
    account_user: Mapped[str] = mapped_column(String(128), unique=True)
    scopes: Mapped[str] = mapped_column(Text)  # comma-separated, as IMS takes them
    product_profiles: Mapped[str] = mapped_column(Text)  # a JSON list of profile names
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TechnicalAccountSecret(Base):
    """One client secret of a technical account (several at once: rotation), argon2-hashed."""

    __tablename__ = "technical_account_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("technical_accounts.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(255))
    hint: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ImsSigningKey(Base):
    """An RS256 key pair that signs IMS access tokens; its public half is in the JWKS."""

    __tablename__ = "ims_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key: Mapped[str] = mapped_column(Text)  # PEM, sealed by the SecretBox
    public_jwk: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
