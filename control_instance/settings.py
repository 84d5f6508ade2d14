"""Settings of the control instance (environment prefix ``MCSIM_CONTROL_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.settings import Environment, ServiceSettings

__all__ = ["ControlSettings"]


class ControlSettings(ServiceSettings):
    """The control instance: authoring, publishing, monitoring and archiving."""

    model_config = SettingsConfigDict(env_prefix="MCSIM_CONTROL_", extra="ignore")
    service_name: ClassVar[str] = "control"

    port: int = Field(8070, ge=1, le=65535, description="TCP port the HTTP server listens on.")
    execution_urls: list[str] = Field(
        default_factory=list,
        description="Execution instances registered at first start (JSON list of URLs).",
    )
    load_balancer_url: str | None = Field(
        None, description="Public URL of the execution cell's load balancer."
    )
    midsourcing_url: str = Field(
        "http://127.0.0.1:8090", description="Base URL of the mid-sourcing server."
    )
    demo: bool = Field(False, description="Create the demo workspace at start-up.")
    execution_login: str = Field(
        "mc", description="Account the control instance uses on the execution instances' /_mc/ API."
    )
    execution_password: str | None = Field(
        None,
        description="Password of that account. In development an empty value means 'mc'.",
    )

    @model_validator(mode="after")
    def _development_credentials(self) -> ControlSettings:
        if self.execution_password is None and self.environment is Environment.DEVELOPMENT:
            self.execution_password = "mc"  # noqa: S105 - documented development password
        return self
