"""Wire shapes of logins, sessions and operators."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from control_instance.auth.roles import Role

__all__ = [
    "LoginIn",
    "OperatorCreate",
    "OperatorPublic",
    "OperatorUpdate",
    "SessionOut",
    "TokenOut",
]

LOGIN_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"


class LoginIn(BaseModel):
    """Credentials of a control-instance operator."""

    login: str = Field(min_length=1, max_length=64)
    password: str = Field(max_length=1024)


class OperatorPublic(BaseModel):
    """An operator as the API shows it (never its password)."""

    id: int
    login: str
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime


class TokenOut(BaseModel):
    """A bearer token for the API."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type
    expires_at: datetime
    operator: OperatorPublic


class SessionOut(BaseModel):
    """A console session: the cookie is set; send ``csrf_token`` as X-CSRF-Token on changes."""

    csrf_token: str
    expires_at: datetime
    operator: OperatorPublic


class OperatorCreate(BaseModel):
    """A new operator."""

    login: str = Field(pattern=LOGIN_PATTERN)
    name: str = Field("", max_length=255)
    role: Role
    password: str = Field(min_length=8, max_length=1024)


class OperatorUpdate(BaseModel):
    """Changes to an operator; missing fields stay as they are."""

    name: str | None = Field(None, max_length=255)
    role: Role | None = None
    password: str | None = Field(None, min_length=8, max_length=1024)
    disabled: bool | None = None
