"""Settings of the load balancer (environment prefix ``MCSIM_LB_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.settings import ServiceSettings

__all__ = ["BalancerSettings"]


class BalancerSettings(ServiceSettings):
    """The execution cell's public entry: a round-robin reverse proxy."""

    model_config = SettingsConfigDict(env_prefix="MCSIM_LB_", extra="ignore")
    service_name: ClassVar[str] = "load_balancer"

    port: int = Field(8080, ge=1, le=65535, description="TCP port the HTTP server listens on.")
    backends: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8081", "http://127.0.0.1:8082"],
        description="Execution instances behind the balancer (JSON list of base URLs).",
    )
    connect_timeout: float = Field(2.0, gt=0, description="Seconds to connect to a backend.")
    read_timeout: float = Field(30.0, gt=0, description="Seconds to wait for a backend's answer.")
