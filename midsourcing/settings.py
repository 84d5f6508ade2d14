"""Settings of the mid-sourcing server (environment prefix ``MCSIM_MID_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings

__all__ = ["MidSettings"]


class MidSettings(ServiceSettings):
    """The mid-sourcing server: delivery, bounces, quarantine and captured messages."""

    model_config = SettingsConfigDict(env_prefix="MCSIM_MID_", extra="ignore")
    service_name: ClassVar[str] = "midsourcing"

    port: int = Field(8090, ge=1, le=65535, description="TCP port the HTTP server listens on.")
