"""Settings shared by every mcsim service.

Each service subclasses :class:`ServiceSettings` with its own environment prefix
(``MCSIM_EXEC_``, ``MCSIM_CONTROL_``, ``MCSIM_MID_``, ``MCSIM_LB_``). Nothing here is read
at import time: ``create_app(settings)`` builds the settings object, or receives one.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Environment", "LogFormat", "ServiceSettings"]


class Environment(enum.StrEnum):
    """The kind of environment a service runs in (DESIGN §7)."""

    DEVELOPMENT = "development"
    STAGE = "stage"
    PRODUCTION = "production"


class LogFormat(enum.StrEnum):
    """How services write their log lines."""

    JSON = "json"
    TEXT = "text"


class ServiceSettings(BaseSettings):
    """Settings every service has; subclasses add their own and set ``env_prefix``."""

    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    #: Short name of the service, used in logs, health answers and file names.
    service_name: ClassVar[str] = "service"

    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port the HTTP server listens on.")
    public_url: str | None = Field(
        None,
        description="URL clients use to reach this service (written into WSDLs and hrefs). "
        "Defaults to http://HOST:PORT.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names this service answers to (Host header) besides loopback "
        "(127.0.0.0/8, [::1], localhost), the host of PUBLIC_URL and HOST, as a JSON list "
        '(e.g. ["mcsim.internal", "exec1"]); "*" answers to every host. Other hosts get 421 '
        "Misdirected Request (defence against DNS rebinding).",
    )
    data_dir: Path = Field(Path(".mcsim"), description="Folder for SQLite files and logs.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of this service's database. Defaults to a SQLite file "
        "under DATA_DIR. PostgreSQL: postgresql://user:password@host:5432/dbname.",
    )
    database_schema: str | None = Field(
        None,
        description="PostgreSQL schema for this service's tables (created when missing); "
        "lets several services share one PostgreSQL database.",
    )
    environment: Environment = Field(
        Environment.DEVELOPMENT, description="development, stage or production."
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")
    log_format: LogFormat = Field(LogFormat.JSON, description="json (one object a line) or text.")

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level {value!r}")
        return level

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def resolved_public_url(self) -> str:
        """Return the URL clients use to reach this service."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::", ""} else self.host
        return f"http://{host}:{self.port}"

    def default_sqlite_name(self) -> str:
        """Return the SQLite file name used when no database URL is set."""
        return f"{self.service_name}.sqlite3"

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / self.default_sqlite_name()).resolve()}"
