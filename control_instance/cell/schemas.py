"""Wire shapes of cell operators and technical tokens (secrets are write-only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from control_instance.fanout import InstanceOutcome

__all__ = [
    "CellOperatorChange",
    "CellOperatorCreate",
    "CellOperatorPublic",
    "CellOperatorUpdate",
    "TechnicalTokenChange",
    "TechnicalTokenCreate",
    "TechnicalTokenPublic",
]

LOGIN_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class CellOperatorCreate(BaseModel):
    """An operator of the execution instances (the SOAP ``login/password`` of event senders)."""

    login: str = Field(pattern=LOGIN_PATTERN, examples=["website"])
    label: str = Field("", max_length=255)
    password: str = Field(min_length=1, max_length=1024)


class CellOperatorUpdate(BaseModel):
    """Changes to a cell operator."""

    label: str | None = Field(None, max_length=255)
    password: str | None = Field(None, min_length=1, max_length=1024)


class CellOperatorPublic(BaseModel):
    """A cell operator, without its password."""

    id: int
    login: str
    label: str
    created_at: datetime
    updated_at: datetime


class CellOperatorChange(BaseModel):
    """A cell operator after a change, and how each execution instance took it."""

    operator: CellOperatorPublic | None
    complete: bool
    instances: list[InstanceOutcome]


class TechnicalTokenCreate(BaseModel):
    """A new bearer technical token; leave ``token`` out to have one generated."""

    label: str = Field("", max_length=255)
    login: str = Field("mc", pattern=LOGIN_PATTERN, description="The operator it acts as.")
    token: str | None = Field(None, min_length=16, max_length=1024)


class TechnicalTokenPublic(BaseModel):
    """A technical token, shown by its first characters only."""

    id: int
    label: str
    login: str
    hint: str
    created_at: datetime


class TechnicalTokenChange(BaseModel):
    """A technical token after a change; ``token`` is shown once, when it is created."""

    technical_token: TechnicalTokenPublic | None
    token: str | None = None
    complete: bool
    instances: list[InstanceOutcome]
