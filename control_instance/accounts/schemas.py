"""Wire shapes of execution-instance accounts (the password is write-only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.dev_credentials import CONTROL_PLANE

__all__ = ["AccountCreate", "AccountPublic", "AccountUpdate", "ConnectionTest"]

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
URL_PATTERN = r"^https?://[^\s/]+(/[^\s]*)?$"


class AccountCreate(BaseModel):
    """A new execution-instance account."""

    name: str = Field(pattern=NAME_PATTERN, description="Internal name, e.g. exec3.")
    label: str = Field("", max_length=255)
    url: str = Field(pattern=URL_PATTERN, max_length=1024, examples=["http://127.0.0.1:8083"])
    login: str = Field(
        CONTROL_PLANE[0],
        min_length=1,
        max_length=64,
        description="The instance's control-plane account (its MCSIM_EXEC_CONTROL_LOGIN).",
    )
    password: str = Field(max_length=1024, description="Stored encrypted; never returned.")
    enabled: bool = True


class AccountUpdate(BaseModel):
    """Changes to an account; missing fields stay as they are."""

    label: str | None = Field(None, max_length=255)
    url: str | None = Field(None, pattern=URL_PATTERN, max_length=1024)
    login: str | None = Field(None, min_length=1, max_length=64)
    password: str | None = Field(
        None, max_length=1024, description="Required with a new URL; otherwise kept when missing."
    )
    enabled: bool | None = None


class AccountPublic(BaseModel):
    """An account as the API shows it: no password, ever."""

    id: int
    name: str
    label: str
    url: str
    login: str
    enabled: bool
    instance_id: int | None = Field(description="Set by POST …/initialize.")
    last_checked_at: datetime | None
    last_check_ok: bool | None
    last_error: str | None
    last_synced_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ConnectionTest(BaseModel):
    """The outcome of "test connection" (``GET /_mc/info`` with the account)."""

    ok: bool
    instance_id: int | None = None
    version: str | None = None
    public_url: str | None = None
    event_types: list[str] = Field(default_factory=list)
    pending_events: int | None = None
    error: str | None = None
