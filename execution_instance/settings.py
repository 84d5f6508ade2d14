"""Settings of an execution instance (environment prefix ``MCSIM_EXEC_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from execution_instance.processes import ProcessLayout
from services import dev_credentials
from services.auth.zones import SecurityZone, default_zones
from services.settings import Environment, ServiceSettings

__all__ = ["DEV_CONTROL_PLANE", "DEV_OPERATOR", "DEV_TECHNICAL_TOKEN", "ExecutionSettings"]

#: Development credentials (DESIGN §6.2); refused when the environment is production.
DEV_OPERATOR = dev_credentials.OPERATOR
DEV_TECHNICAL_TOKEN = dev_credentials.TECHNICAL_TOKEN
DEV_CONTROL_PLANE = dev_credentials.CONTROL_PLANE


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
    operators: dict[str, str] = Field(
        default_factory=dict,
        description='Operators seeded at start, JSON {"login": "password"}. In development an '
        'empty value means {"mc": "mc"}.',
    )
    technical_tokens: list[str] = Field(
        default_factory=list,
        description="Bearer technical tokens seeded at start (JSON list). In development an "
        'empty value means ["mcsim-dev-token"].',
    )
    control_login: str = Field(
        DEV_CONTROL_PLANE[0],
        min_length=1,
        max_length=64,
        description="Login of the control-plane account: the only credential the /_mc/ API "
        "accepts (HTTP Basic), held by the control instance. No operator or technical token of "
        "the intake opens /_mc/.",
    )
    control_password: str | None = Field(
        None,
        description="Password of the control-plane account. In development an empty value means "
        f"{DEV_CONTROL_PLANE[1]!r}; elsewhere /_mc/ refuses every call until one is set "
        "(at least 16 characters).",
    )
    event_types: list[str] = Field(
        default_factory=list,
        description="Event types known at start (JSON list); the control instance publishes more.",
    )
    security_zones: list[SecurityZone] = Field(
        default_factory=default_zones,
        description="Security zones (JSON list of {name, networks, allow_user_password, "
        "allow_empty_password, session_token_only}). Callers outside every zone are refused.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Networks whose X-Forwarded-For header is believed (JSON list; default none). "
        "Without proxy_secret this trusts by address alone: list only addresses that belong to "
        "the load balancer (a fixed container address), never loopback, where every local "
        "program connects from 127.0.0.1. With proxy_secret it names proxies in front of the "
        "balancer.",
    )
    proxy_secret: str | None = Field(
        None,
        description="Secret the load balancer sends in X-Mcsim-Proxy-Secret (its "
        "MCSIM_LB_PROXY_SECRET). When set, X-Forwarded-For is believed only on requests that "
        "carry it: the only way to tell the balancer from another local caller on one host. "
        "mcsim up generates one per stack.",
    )
    ims_url: str | None = Field(
        None,
        description="Base URL of the Adobe IMS emulator (the control instance): the signing keys "
        "of IMS access tokens are read from <ims_url>/ims/keys at the first token and whenever "
        "a token names an unknown key. Empty: IMS access tokens are refused (static technical "
        "tokens still work). mcsim up sets it.",
    )
    campaign_instance: str = Field(
        "mcsim",
        min_length=1,
        max_length=64,
        description="Campaign instance name: an IMS access token opens Message Center only "
        "with the product profile 'campaign - <name> - messagecenter'.",
    )
    wsdl_needs_bearer: bool = Field(
        False,
        description="Serve the WSDLs only to callers with Authorization: Bearer (a technical "
        "token or an IMS access token), as Campaign v8.6 under IMS does. Off: a Bearer sent is "
        "checked, a request without one is served.",
    )
    session_ttl_seconds: int = Field(
        86_400, ge=1, description="Lifetime of Logon session and security tokens (24 h)."
    )
    password_cache_seconds: int = Field(
        600, ge=0, description="How long a verified login/password is remembered (sessionCacheSec)."
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest accepted request body (413 beyond)."
    )
    max_ctx_bytes: int = Field(64 * 1024, ge=1, description="Largest accepted <ctx> of one event.")
    max_events_per_call: int = Field(1000, ge=1, description="Most events in one PushEvents call.")
    max_xml_depth: int = Field(64, ge=8, description="Deepest accepted XML nesting.")
    queue_warning: int = Field(
        100, ge=1, description="Pending events above which mcPing.jsp reports an error line."
    )
    queue_hard_limit: int = Field(
        100_000, ge=1, description="Pending events above which new events are refused (503)."
    )

    midsourcing_login: str = Field("mid", description="Operator used on the mid-sourcing server.")
    midsourcing_password: str | None = Field(
        None, description="Its password. In development an empty value means 'mid'."
    )
    workers: int = Field(
        2, ge=0, le=64, description="Workers of each processing process (0: intake only)."
    )
    web_processes: int | None = Field(
        None,
        ge=1,
        le=32,
        description="HTTP processes sharing the port (SO_REUSEPORT) when run as a process "
        "(python -m execution_instance, mcsim up). Empty: one per two usable cores, at least one.",
    )
    processing_processes: int | None = Field(
        None,
        ge=0,
        le=32,
        description="Processes running the processing workers, apart from the HTTP ones. Empty: "
        "one per two usable cores, at least one. 0: the workers run inside the HTTP process "
        "(needs web_processes 1: one process in all).",
    )
    cores: int | None = Field(
        None,
        ge=1,
        le=1024,
        description="Cores the instance counts on when it chooses its processes. Empty: every "
        "usable core (mcsim up shares them out between its instances).",
    )
    claim_batch_size: int = Field(
        100, ge=1, le=10_000, description="Events one worker claims and hands over at once."
    )
    claim_lease_seconds: float = Field(
        60.0, gt=0, description="How long a claim lasts; a dead worker's events are then retaken."
    )
    idle_poll_seconds: float = Field(
        1.0, gt=0, description="How often idle workers look for due events (new events wake them)."
    )
    handoff_retry_base_seconds: float = Field(
        1.0, gt=0, description="First delay before retrying a hand-over to mid-sourcing (doubles)."
    )
    handoff_retry_max_seconds: float = Field(
        60.0, gt=0, description="Longest delay between hand-over retries."
    )
    validity_seconds: float = Field(
        432_000.0,
        gt=0,
        description="An event not handed over this long after its arrival becomes tooOld (5 days).",
    )
    status_sync_seconds: float = Field(
        0.5, gt=0, description="How often delivery logs are read back from mid-sourcing."
    )
    render_time_limit_ms: int = Field(
        200, ge=1, description="CPU time one template render may use."
    )
    render_memory_limit_mb: int = Field(32, ge=4, description="Memory of one template sandbox.")

    @model_validator(mode="after")
    def _layout(self) -> ExecutionSettings:
        self.layout()  # raises ValueError for a layout that cannot run
        return self

    def layout(self) -> ProcessLayout:
        """Return the processes this instance runs as (from the settings and the cores)."""
        return ProcessLayout.choose(
            web=self.web_processes,
            processing=self.processing_processes,
            workers=self.workers,
            cores=self.cores,
        )

    @model_validator(mode="after")
    def _development_credentials(self) -> ExecutionSettings:
        development = self.environment is Environment.DEVELOPMENT
        if development and not self.operators:
            self.operators = {DEV_OPERATOR[0]: DEV_OPERATOR[1]}
        if development and not self.technical_tokens:
            self.technical_tokens = [DEV_TECHNICAL_TOKEN]
        if development and self.control_password is None:
            self.control_password = DEV_CONTROL_PLANE[1]
        weak = self.control_password is not None and len(self.control_password) < 16
        if weak and not development:
            raise ValueError("the control-plane password needs at least 16 characters")
        if development and self.midsourcing_password is None:
            self.midsourcing_password = "mid"  # noqa: S105 - documented development password
        if self.environment is Environment.PRODUCTION:
            if self.operators.get(DEV_OPERATOR[0]) == DEV_OPERATOR[1]:
                raise ValueError("the development operator mc/mc is refused in production")
            if DEV_TECHNICAL_TOKEN in self.technical_tokens:
                raise ValueError(
                    f"the development token {DEV_TECHNICAL_TOKEN} is refused in production"
                )
            if self.control_password == DEV_CONTROL_PLANE[1]:
                raise ValueError("the development control-plane password is refused in production")
        return self

    def default_sqlite_name(self) -> str:
        """Return one SQLite file per instance id, so several instances share a data dir."""
        return f"execution-{self.instance_id}.sqlite3"
