"""Settings of the mid-sourcing server (environment prefix ``MCSIM_MID_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.auth.zones import SecurityZone, default_zones
from services.settings import Environment, ServiceSettings

__all__ = ["DEV_OPERATOR", "MidSettings"]

#: Development credentials of the mid-sourcing operator; refused when the environment is production.
DEV_OPERATOR = ("mid", "mid")


class MidSettings(ServiceSettings):
    """The mid-sourcing server: delivery, bounces, quarantine and captured messages."""

    model_config = SettingsConfigDict(env_prefix="MCSIM_MID_", extra="ignore")
    service_name: ClassVar[str] = "midsourcing"

    port: int = Field(8090, ge=1, le=65535, description="TCP port the HTTP server listens on.")

    # -- who may submit ------------------------------------------------------------------
    operators: dict[str, str] = Field(
        default_factory=dict,
        description='Operators allowed to submit delivery parts, JSON {"login": "password"}. '
        'In development an empty value means {"mid": "mid"}.',
    )
    security_zones: list[SecurityZone] = Field(
        default_factory=default_zones,
        description="Security zones (JSON list of {name, networks, allow_user_password, "
        "allow_empty_password, session_token_only}). Callers outside every zone are refused.",
    )
    session_ttl_seconds: int = Field(
        86_400, ge=1, description="Lifetime of Logon session and security tokens (24 h)."
    )
    password_cache_seconds: int = Field(
        600, ge=0, description="How long a verified login/password is remembered (sessionCacheSec)."
    )
    max_body_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest accepted SOAP request body (413 beyond)."
    )
    max_xml_depth: int = Field(64, ge=8, description="Deepest accepted XML nesting.")
    max_messages_per_part: int = Field(
        10_000, ge=1, description="Most messages in one delivery part (a larger part is fatal)."
    )
    max_logs_per_call: int = Field(
        5_000, ge=1, description="Most delivery logs one GetDeliveryLogs call returns."
    )

    # -- the delivery queue ----------------------------------------------------------------
    concurrency: int = Field(
        200, ge=1, description="Most messages being delivered at the same time by this process."
    )
    claim_batch: int = Field(
        200, ge=1, description="Most messages claimed from the queue in one transaction."
    )
    poll_seconds: float = Field(
        0.5,
        gt=0,
        description="How often the queue is polled when idle (new parts wake it up at once).",
    )
    lease_seconds: float = Field(
        15.0,
        gt=0,
        description="How long a claimed message stays reserved without a heartbeat; after a "
        "crash, other workers take it over once the lease is over.",
    )
    shutdown_grace_seconds: float = Field(
        10.0,
        ge=0,
        description="At shutdown, how long running tries may finish; the others are queued again.",
    )
    max_tries: int = Field(
        5, ge=1, description="Tries per message before a soft bounce becomes final (failed)."
    )
    retry_seconds: float = Field(
        1.0,
        ge=0,
        description="Wait before the first retry of a soft bounce; doubled at each retry.",
    )
    retry_max_seconds: float = Field(
        300.0, ge=0, description="Longest wait between two tries of a soft-bounced message."
    )

    # -- email -------------------------------------------------------------------------------
    smtp_host: str | None = Field(
        None,
        description="SMTP relay for email (a real MTA, Mailpit, …). Unset: email goes only into "
        "the capture store.",
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="Port of the SMTP relay.")
    smtp_starttls: bool = Field(False, description="Upgrade the relay connection with STARTTLS.")
    smtp_tls_verify: bool = Field(
        True, description="Verify the relay's TLS certificate (when STARTTLS is on)."
    )
    smtp_username: str | None = Field(None, description="SMTP AUTH user name (optional).")
    smtp_password: str | None = Field(None, description="SMTP AUTH password (optional).")
    smtp_timeout_seconds: float = Field(
        10.0, gt=0, description="Timeout of each SMTP connection and command."
    )
    smtp_connections: int = Field(
        8, ge=1, description="Most SMTP connections kept open to the relay."
    )
    message_id_domain: str = Field(
        "mcsim.local", description="Domain part of the Message-ID headers mcsim writes."
    )
    console_url: str | None = Field(
        None,
        description="URL of the control console, for the mailbox's links from a message to its "
        "event (mcsim up sets it). Unset: no such link.",
    )

    # -- SMS and push ----------------------------------------------------------------------------
    sms_webhook_url: str | None = Field(
        None, description="URL that receives each SMS as a JSON POST (optional)."
    )
    push_webhook_url: str | None = Field(
        None, description="URL that receives each push notification as a JSON POST (optional)."
    )
    webhook_tries: int = Field(5, ge=1, description="Tries of each webhook POST.")
    webhook_retry_seconds: float = Field(
        0.5, ge=0, description="Wait before the first webhook retry; doubled at each retry."
    )

    # -- quarantine ------------------------------------------------------------------------------
    quarantine_soft_days: float = Field(
        10.0,
        gt=0,
        description="A quarantine caused by soft bounces ends this many days after the last one.",
    )
    quarantine_mailbox_full_days: float = Field(
        30.0,
        gt=0,
        description="A quarantine caused by Mailbox full bounces ends this many days after the "
        "last one.",
    )

    # -- retention ---------------------------------------------------------------------------------
    retention_max_messages: int = Field(
        50_000,
        ge=1,
        description="Most captured messages kept; the oldest finished ones are deleted beyond.",
    )
    retention_max_age_hours: float = Field(
        168.0, gt=0, description="Finished captured messages older than this are deleted."
    )
    log_retention_hours: float = Field(
        168.0, gt=0, description="Delivery logs older than this are deleted."
    )
    dedupe_window_hours: float = Field(
        84.0,
        gt=0,
        description="How long delivery part and message ids are remembered, so that a part sent "
        "again never duplicates a message (84 h: Campaign's 3.5-day MTA validity).",
    )
    housekeeping_seconds: float = Field(
        60.0, gt=0, description="How often retention and quarantine expiry run."
    )

    @model_validator(mode="after")
    def _development_credentials(self) -> MidSettings:
        if self.environment is Environment.DEVELOPMENT and not self.operators:
            self.operators = {DEV_OPERATOR[0]: DEV_OPERATOR[1]}
        if (
            self.environment is Environment.PRODUCTION
            and self.operators.get(DEV_OPERATOR[0]) == DEV_OPERATOR[1]
        ):
            raise ValueError("the development operator mid/mid is refused in production")
        return self
