"""Wire shapes of technical accounts (client secrets are shown once, never stored in clear)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

__all__ = [
    "ClientSecretCreated",
    "ClientSecretPublic",
    "Scope",
    "SigningKeyPublic",
    "TechnicalAccountCreate",
    "TechnicalAccountCreated",
    "TechnicalAccountPublic",
    "TechnicalAccountUpdate",
    "TokenAnswer",
]

#: One OAuth scope (IMS scopes look like ``AdobeID`` or ``additional_info.roles``).
Scope = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
#: A product profile name, such as ``campaign - acme - messagecenter``.
ProductProfile = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^,\x00-\x1f]+$")
]
ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{8,64}$")]
ClientSecret = Annotated[str, StringConstraints(min_length=16, max_length=255)]


class TechnicalAccountCreate(BaseModel):
    """A new technical account (OAuth server-to-server credential)."""

    name: str = Field(min_length=1, max_length=255, examples=["Shop website"])
    client_id: ClientId | None = Field(
        None, description="Leave out to have one generated (32 hexadecimal digits, as Adobe's)."
    )
    client_secret: ClientSecret | None = Field(
        None, description="Leave out to have one generated; it is shown once."
    )
    scopes: list[Scope] | None = Field(
        None, min_length=1, max_length=64, description="Leave out for Campaign's default scopes."
    )
    product_profiles: list[ProductProfile] | None = Field(
        None,
        max_length=64,
        description="Leave out for the Message Center profile 'campaign - <instance> - "
        "messagecenter'.",
    )


class TechnicalAccountUpdate(BaseModel):
    """Changes to a technical account (tokens already issued keep what they were given)."""

    name: str | None = Field(None, min_length=1, max_length=255)
    scopes: list[Scope] | None = Field(None, min_length=1, max_length=64)
    product_profiles: list[ProductProfile] | None = Field(None, max_length=64)


class ClientSecretPublic(BaseModel):
    """A client secret, without its value."""

    uuid: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None


class TechnicalAccountPublic(BaseModel):
    """A technical account and its secrets' metadata."""

    id: int
    name: str
    client_id: str
    technical_account_id: str
    scopes: list[str]
    product_profiles: list[str]
    client_secrets: list[ClientSecretPublic]
    created_at: datetime
    updated_at: datetime


class TechnicalAccountCreated(BaseModel):
    """A new technical account and its first client secret (shown this once)."""

    technical_account: TechnicalAccountPublic
    client_secret: str


class ClientSecretCreated(BaseModel):
    """A new client secret (shown this once): rotate by adding one, then deleting the old."""

    secret: ClientSecretPublic
    client_secret: str


class TokenAnswer(BaseModel):
    """The answer of ``POST /ims/token/v3``, as Adobe IMS gives it."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int = Field(description="Seconds the token is valid for.")


class SigningKeyPublic(BaseModel):
    """A key that signs (or signed) IMS access tokens; its public half is at /ims/keys."""

    kid: str
    created_at: datetime
    signing: bool = Field(description="Whether it signs the tokens issued now.")
