"""Settings of an execution instance (environment prefix ``MCSIM_EXEC_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings

__all__ = ["ExecutionSettings"]


class ExecutionSettings(ServiceSettings):
    """One execution instance of the Message Center cell."""

    model_config = SettingsConfigDict(env_prefix="MCSIM_EXEC_", extra="ignore")
    service_name: ClassVar[str] = "execution"

    port: int = Field(8081, ge=1, le=65535, description="TCP port the HTTP server listens on.")
    instance_id: int = Field(
        1, ge=1, le=255, description="Execution instance id: the high byte of every plId."
    )
    midsourcing_url: str = Field(
        "http://127.0.0.1:8090", description="Base URL of the mid-sourcing server."
    )
    organization: str = Field("acme", description="Organization name in REST API paths.")

    def default_sqlite_name(self) -> str:
        """Return one SQLite file per instance id, so several instances share a data dir."""
        return f"execution-{self.instance_id}.sqlite3"
