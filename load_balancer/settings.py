"""Settings of the load balancer (environment prefix ``MCSIM_LB_``)."""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services import dev_credentials
from services.prefork import usable_cores
from services.settings import Environment, ServiceSettings

__all__ = ["DEV_ADMIN_TOKEN", "BalancerSettings", "backend_url"]

#: Development bearer token of the admin API: its own, not the websites' technical token (F3).
DEV_ADMIN_TOKEN = dev_credentials.LB_ADMIN_TOKEN


def backend_url(value: str) -> str:
    """Return a backend's base URL as ``http://host:port``; refuse anything else."""
    parts = urlsplit(value.strip())
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"a backend is an http:// URL with a host, not {value!r}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"a backend URL has no path, query or credentials: {value!r}")
    try:
        port = parts.port or 80
    except ValueError:
        raise ValueError(f"invalid port in {value!r}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"http://{host}:{port}"


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
    workers: int = Field(
        default_factory=lambda: max(1, usable_cores() // 2),
        ge=1,
        le=32,
        description="Worker processes sharing the port (SO_REUSEPORT); status, health and "
        "metrics are shared between them, and one more process checks the backends. Default: "
        "one per two usable cores; 1: one process in all.",
    )
    health_interval: float = Field(
        1.0, gt=0, description="Seconds between active health checks of each backend."
    )
    health_timeout: float = Field(
        1.0, gt=0, description="Seconds a health check (GET /nl/jsp/ping.jsp) may take."
    )
    health_rise: int = Field(
        2, ge=1, description="Consecutive passed checks that bring a down backend back."
    )
    health_fall: int = Field(
        2, ge=1, description="Consecutive failed checks that take an up backend out."
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Largest request body forwarded (413 beyond)."
    )
    keepalive_seconds: float = Field(
        2.0,
        gt=0,
        description="Seconds an idle connection to a backend is kept for reuse (keep it below "
        "the backends' own keep-alive timeout: 5 s for uvicorn).",
    )
    shutdown_timeout: float = Field(
        10.0, ge=0, description="Seconds requests in flight get to finish on shutdown."
    )
    access_log: bool = Field(
        False, description="Log every proxied request (costs throughput); errors are always logged."
    )
    admin_token: str | None = Field(
        None,
        description="Bearer token of the admin API (GET/POST/DELETE /_lb/backends). In "
        f"development an empty value means {DEV_ADMIN_TOKEN}; elsewhere the admin API is off "
        "without one.",
    )

    proxy_secret: str | None = Field(
        None,
        description="Secret sent to the backends in X-Mcsim-Proxy-Secret so that they believe "
        "the X-Forwarded-For the balancer sets (their MCSIM_EXEC_PROXY_SECRET). mcsim up "
        "generates one per stack.",
    )

    @field_validator("backends")
    @classmethod
    def _backend_urls(cls, value: list[str]) -> list[str]:
        urls = [backend_url(url) for url in value]
        if len(set(urls)) != len(urls):
            raise ValueError("a backend is listed twice")
        return urls

    @model_validator(mode="after")
    def _development_token(self) -> BalancerSettings:
        if self.environment is Environment.DEVELOPMENT and not self.admin_token:
            self.admin_token = DEV_ADMIN_TOKEN
        if self.environment is Environment.PRODUCTION and self.admin_token == DEV_ADMIN_TOKEN:
            raise ValueError(
                f"the development admin token {DEV_ADMIN_TOKEN} is refused in production"
            )
        return self
