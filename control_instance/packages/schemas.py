"""Wire shapes of packages: the environment, and what an import did or would do."""

from __future__ import annotations

import enum

from pydantic import BaseModel, Field

__all__ = ["Action", "EntityChange", "EnvironmentInfo", "ImportReport", "PackageInfo"]


class Action(enum.StrEnum):
    """What an import does to one entity."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class EnvironmentInfo(BaseModel):
    """The environment of this control instance and the package format it reads and writes."""

    environment: str = Field(examples=["development"])
    version: str = Field(description="The mcsim version.")
    package_format: str = Field(description="Written into a package's buildNumber.")


class EntityChange(BaseModel):
    """One entity of a package and what the import does to it."""

    schema_name: str = Field(examples=["nms:delivery"])
    key: str = Field(description="The entity's name (seeds: template/label).")
    action: Action
    fields: list[str] = Field(default_factory=list, description="The fields that change.")
    note: str = ""


class PackageInfo(BaseModel):
    """The header of an imported package."""

    name: str
    label: str
    author: str
    environment: str
    build_number: str
    build_version: str
    build_date: str


class ImportReport(BaseModel):
    """The result of an import: per entity created / updated / unchanged."""

    dry_run: bool
    applied: bool = Field(description="Whether the database was changed.")
    package: PackageInfo
    created: int
    updated: int
    unchanged: int
    changes: list[EntityChange]
