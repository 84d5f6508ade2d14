"""What a package holds, independent of its XML form; the format version mcsim writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from control_instance.templates.content import ChannelName
from services.errors import InvalidRequest

if TYPE_CHECKING:
    from control_instance.packages.technical_accounts import TechnicalAccountEntry

__all__ = [
    "ACCOUNT_SCHEMA",
    "EVENT_TYPE_SCHEMA",
    "FORMAT_VERSION",
    "SEED_SCHEMA",
    "TEMPLATE_SCHEMA",
    "AccountEntry",
    "EventTypeEntry",
    "IncompatiblePackage",
    "InvalidPackage",
    "Package",
    "PackageHeader",
    "SeedEntry",
    "TemplateEntry",
]

#: The package format this mcsim writes and reads, carried in ``buildNumber``. Raise it when
#: the entities' XML changes in a way an older mcsim would misread.
FORMAT_VERSION = "1"

EVENT_TYPE_SCHEMA = "nms:eventType"
TEMPLATE_SCHEMA = "nms:delivery"
SEED_SCHEMA = "nms:seedMember"
ACCOUNT_SCHEMA = "nms:extAccount"


class InvalidPackage(InvalidRequest):
    """A package whose structure or references are wrong; nothing was imported."""

    error = "invalid_package"


class IncompatiblePackage(InvalidPackage):
    """A package written by an mcsim whose package format this one cannot read."""

    error = "incompatible_package"


@dataclass(frozen=True)
class PackageHeader:
    """The ``<package>`` attributes, its description and build date."""

    namespace: str
    name: str
    label: str
    author: str
    build_number: str
    build_version: str
    build_date: str
    environment: str
    desc: str = ""


@dataclass(frozen=True)
class EventTypeEntry:
    """An event type (key: name)."""

    name: str
    label: str


@dataclass(frozen=True)
class TemplateEntry:
    """A template (key: name): its content is the published version's, else the draft's."""

    name: str
    label: str
    event_type: str
    channel: ChannelName
    content: dict[str, str]
    published_version: int | None = None


@dataclass(frozen=True)
class SeedEntry:
    """A seed address (key: its template and label)."""

    template: str
    label: str
    address: str
    external_id: str
    ctx: str


@dataclass(frozen=True)
class AccountEntry:
    """An execution-instance account (key: name), never with its password."""

    name: str
    label: str
    url: str
    login: str


@dataclass(frozen=True)
class Package:
    """A whole package, its entities in their stable order."""

    header: PackageHeader
    event_types: list[EventTypeEntry] = field(default_factory=list)
    templates: list[TemplateEntry] = field(default_factory=list)
    seeds: list[SeedEntry] = field(default_factory=list)
    accounts: list[AccountEntry] = field(default_factory=list)
    technical_accounts: list[TechnicalAccountEntry] = field(default_factory=list)

    def sorted(self) -> Package:
        """Return the package with every entity list in its stable order."""
        return Package(
            header=self.header,
            event_types=sorted(self.event_types, key=lambda e: e.name),
            templates=sorted(self.templates, key=lambda t: t.name),
            seeds=sorted(self.seeds, key=lambda s: (s.template, s.label, s.address)),
            accounts=sorted(self.accounts, key=lambda a: a.name),
            technical_accounts=sorted(self.technical_accounts, key=lambda a: a.client_id),
        )
