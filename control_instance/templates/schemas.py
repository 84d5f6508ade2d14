"""Wire shapes of templates, versions, seeds, previews, proofs and publications."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, Field

from control_instance.fanout import InstanceOutcome
from control_instance.templates.content import ChannelName

__all__ = [
    "DeploymentPublic",
    "FieldDiff",
    "PreviewIn",
    "PreviewOut",
    "ProofIn",
    "ProofMessage",
    "ProofOut",
    "ProofRecord",
    "PublishOut",
    "RollbackIn",
    "SeedCreate",
    "SeedEventIn",
    "SeedEventOut",
    "SeedPublic",
    "SeedUpdate",
    "TemplateCreate",
    "TemplatePublic",
    "TemplateState",
    "TemplateUpdate",
    "VersionDiff",
    "VersionPublic",
]

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"


class TemplateState(enum.StrEnum):
    """Campaign's template states."""

    BEING_EDITED = "being_edited"
    PUBLISHED = "published"
    PAUSED = "paused"


class TemplateCreate(BaseModel):
    """A new template for one event type and one channel."""

    event_type: str = Field(examples=["PASSWORD_RESET"])
    channel: ChannelName
    name: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        description="Internal name, also its name on the execution instances. "
        "Default: <EVENT_TYPE>_<channel>.",
    )
    label: str = Field("", max_length=255)
    content: dict[str, str] = Field(
        default_factory=dict,
        description="email: from_name, from_address, reply_to, subject, html, text; "
        "sms: text; ios/android: title, body, data (a JSON object). Campaign syntax.",
    )


class TemplateUpdate(BaseModel):
    """Changes to a template; given content fields replace the draft's ("" empties one)."""

    label: str | None = Field(None, max_length=255)
    content: dict[str, str] | None = None


class DeploymentPublic(BaseModel):
    """What the last control-plane call left on one instance."""

    account_id: int
    action: str
    version: int | None
    ok: bool
    error: str | None
    at: datetime


class TemplatePublic(BaseModel):
    """A template: its draft content, state and what is published."""

    id: int
    name: str
    label: str
    event_type: str
    channel: ChannelName
    channel_code: int
    state: TemplateState
    content: dict[str, str]
    published_version: int | None = Field(description="The newest published version.")
    has_unpublished_changes: bool
    created_at: datetime
    updated_at: datetime
    updated_by: str
    deployments: list[DeploymentPublic]


class VersionPublic(BaseModel):
    """One publication of a template."""

    version: int
    content: dict[str, str]
    note: str
    published_at: datetime
    published_by: str


class FieldDiff(BaseModel):
    """How one field differs between two versions."""

    field: str
    changed: bool
    before: str
    after: str
    diff: str = Field(description="A unified diff of the field (empty when unchanged).")


class VersionDiff(BaseModel):
    """The field-by-field difference between two versions (or a version and the draft)."""

    source: str
    target: str
    fields: list[FieldDiff]


class RollbackIn(BaseModel):
    """Which version to publish again."""

    version: int = Field(ge=1)


class PublishOut(BaseModel):
    """A publish (or unpublish, pause, resume): the template, and the outcome per instance."""

    template: TemplatePublic
    version: int | None
    complete: bool = Field(description="False when an instance failed: retry, or sync it later.")
    instances: list[InstanceOutcome]


class SeedCreate(BaseModel):
    """A seed address of a template."""

    label: str = Field(min_length=1, max_length=255)
    address: str = Field(
        min_length=1,
        max_length=4096,
        description="Email address, mobile number or push device token, by channel.",
    )
    external_id: str = Field("", max_length=255)
    ctx: str = Field("<ctx/>", max_length=64 * 1024, description="Event content: <ctx>…</ctx>.")


class SeedUpdate(BaseModel):
    """Changes to a seed address."""

    label: str | None = Field(None, min_length=1, max_length=255)
    address: str | None = Field(None, min_length=1, max_length=4096)
    external_id: str | None = Field(None, max_length=255)
    ctx: str | None = Field(None, max_length=64 * 1024)


class SeedPublic(BaseModel):
    """A seed address."""

    id: int
    template_id: int
    label: str
    address: str
    external_id: str
    ctx: str
    created_at: datetime
    updated_at: datetime


class PreviewIn(BaseModel):
    """What to preview: the draft (or unsaved content) with a seed (or a ctx given here)."""

    seed_id: int | None = None
    ctx: str | None = Field(None, max_length=64 * 1024, description="Used when no seed is given.")
    event_id: int | None = Field(
        None,
        description="Render with the data of an archived event (its plId) instead of a seed: its "
        "address, externalId and ctx as the website sent them.",
    )
    content: dict[str, str] | None = Field(
        None, description="Unsaved fields to preview instead of the draft's."
    )
    version: int | None = Field(None, description="Preview a published version, not the draft.")


class PreviewOut(BaseModel):
    """The rendered fields."""

    channel: ChannelName
    to: str
    seed: str | None
    fields: dict[str, str]


class ProofIn(BaseModel):
    """Which seed addresses receive the proof (all of them when left out)."""

    seed_ids: list[int] | None = None


class ProofMessage(BaseModel):
    """One proof message handed to mid-sourcing."""

    seed_id: int
    seed: str
    to: str
    message_id: str


class ProofRecord(BaseModel):
    """A proof sent earlier (Campaign lists them under the Audit tab)."""

    id: int
    seed: str
    to: str
    message_id: str
    part_id: str
    sent_at: datetime
    sent_by: str


class ProofOut(BaseModel):
    """The delivery part of a proof."""

    part_id: str
    messages: list[ProofMessage]


class SeedEventIn(BaseModel):
    """Which seed address the test event is made of (the first one when left out)."""

    seed_id: int | None = None


class SeedEventOut(BaseModel):
    """A test event the execution cell accepted."""

    pl_id: int = Field(description="The event's id (plId), as the website would get it.")
    event_type: str
    seed: str
    to: str
    sent_to: str = Field(description="The SOAP router the event was pushed to.")
    through: str = Field(description="'the load balancer' or the execution instance's name.")
