"""Settings of the control instance (environment prefix ``MCSIM_CONTROL_``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services import dev_credentials
from services.settings import Environment, ServiceSettings

__all__ = ["DEV_ADMIN", "DEV_CONTROL_PLANE", "ControlSettings"]

#: The development console operator (DESIGN §6.2); refused when the environment is production.
DEV_ADMIN = dev_credentials.ADMIN
#: The execution instances' development control-plane account (their ``/_mc/`` API).
DEV_CONTROL_PLANE = dev_credentials.CONTROL_PLANE


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
        DEV_CONTROL_PLANE[0],
        description="Control-plane account the control instance uses on the execution instances' "
        "/_mc/ API (their MCSIM_EXEC_CONTROL_LOGIN); accounts registered from EXECUTION_URLS "
        "take it at every start.",
    )
    execution_password: str | None = Field(
        None,
        description="Password of that account (the instances' MCSIM_EXEC_CONTROL_PASSWORD). In "
        f"development an empty value means {DEV_CONTROL_PLANE[1]!r}.",
    )
    admin_password: str | None = Field(
        None,
        description="Password of the admin operator created when the database has no operator. "
        "In development an empty value means 'admin'; required in production, where 'admin' is "
        "refused.",
    )
    secret_key: str | None = Field(
        None,
        description="Key (at least 32 characters) that encrypts the secrets the control instance "
        "must use again: execution-instance account passwords, execution operators' passwords, "
        "technical tokens. Empty: a random key kept in DATA_DIR/control-secret.key (mode 0600); "
        "set it in production, where the database and the data directory may be copied apart.",
    )
    session_ttl_seconds: int = Field(
        8 * 3600, ge=60, description="Lifetime of API bearer tokens and console sessions."
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins of one login from one address before a lockout."
    )
    login_lockout_seconds: float = Field(
        60.0, ge=0, description="How long a login is refused after too many failures."
    )
    instance_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long one execution instance may take to answer one control-plane call "
        "(publish, unpublish, pause, sync, test).",
    )
    midsourcing_login: str = Field(
        "mid", description="Operator used on the mid-sourcing server to send proofs."
    )
    midsourcing_password: str | None = Field(
        None, description="Its password. In development an empty value means 'mid'."
    )

    ims_token_ttl_seconds: int = Field(
        86_400,
        ge=1,
        description="Lifetime of the IMS access tokens issued at POST /ims/token/v3 (24 h, as "
        "Adobe IMS).",
    )
    campaign_instance: str = Field(
        "mcsim",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Campaign instance name in the Message Center product profile that grants "
        "technical accounts access: 'campaign - <name> - messagecenter' (the execution "
        "instances' MCSIM_EXEC_CAMPAIGN_INSTANCE).",
    )

    archive_interval_seconds: float = Field(
        5.0,
        ge=0,
        description="How often events and their outcomes are pulled from every enabled "
        "execution instance into the archive; 0 turns the archiving loop off.",
    )
    archive_page_size: int = Field(
        500, ge=1, le=1000, description="Events asked for in one /_mc/events page."
    )
    archive_overlap_seconds: float = Field(
        10.0,
        ge=0,
        description="Each archiving pass re-reads the changes stamped this many seconds before "
        "the last pass began reading (before the cursor, after a restart), so that a change "
        "committed late on an instance is not missed.",
    )
    archive_retention_days: int = Field(
        360,
        ge=1,
        description="Archived events older than this are purged (Campaign's 'Archived events' "
        "purge, NmsCleanup_EventHistoPurgeDelay).",
    )
    execution_event_retention_days: int = Field(
        30,
        ge=1,
        description="Finished events older than this are purged from the execution instances "
        "(Campaign's 'Events' purge, NmsCleanup_EventPurgeDelay), once archived; checked "
        "hourly by the archiving loop.",
    )
    monitor_queue_warning: int = Field(
        100, ge=0, description="Pending events in one instance's queues that raise a warning."
    )
    monitor_queue_alert: int = Field(
        400, ge=0, description="Pending events in one instance's queues that raise an alert."
    )
    monitor_error_rate_warning: float = Field(
        1.0, ge=0, description="Error rate (percent of finished events) that raises a warning."
    )
    monitor_error_rate_alert: float = Field(
        5.0, ge=0, description="Error rate (percent of finished events) that raises an alert."
    )
    monitor_throughput_warning: float = Field(
        18000.0,
        ge=0,
        description="Outgoing messages per hour below which a warning is raised while events "
        "are pending.",
    )
    monitor_throughput_alert: float = Field(
        15000.0,
        ge=0,
        description="Outgoing messages per hour below which an alert is raised while events "
        "are pending.",
    )
    monitor_queue_time_warning: float = Field(
        4.0, ge=0, description="Average seconds in the queue that raise a warning."
    )
    monitor_queue_time_alert: float = Field(
        8.0, ge=0, description="Average seconds in the queue that raise an alert."
    )
    monitor_sending_time_warning: float = Field(
        6.0, ge=0, description="Average message sending seconds that raise a warning."
    )
    monitor_sending_time_alert: float = Field(
        12.0, ge=0, description="Average message sending seconds that raise an alert."
    )
    monitor_processing_time_warning: float = Field(
        10.0, ge=0, description="Average processing seconds (received to sent) for a warning."
    )
    monitor_processing_time_alert: float = Field(
        20.0, ge=0, description="Average processing seconds (received to sent) for an alert."
    )

    @model_validator(mode="after")
    def _development_credentials(self) -> ControlSettings:
        development = self.environment is Environment.DEVELOPMENT
        if self.execution_password is None and development:
            self.execution_password = DEV_CONTROL_PLANE[1]
        if self.midsourcing_password is None and development:
            self.midsourcing_password = "mid"  # noqa: S105 - documented development password
        if self.admin_password is None and development:
            self.admin_password = DEV_ADMIN[1]
        production = self.environment is Environment.PRODUCTION
        if production and self.admin_password == DEV_ADMIN[1]:
            raise ValueError("the development admin password is refused in production")
        if production and self.execution_password in {DEV_CONTROL_PLANE[1], "mc"}:
            raise ValueError(
                "the development control-plane password is refused in production "
                "(MCSIM_CONTROL_EXECUTION_PASSWORD)"
            )
        if production and self.midsourcing_password == "mid":  # noqa: S105 - refusing it
            raise ValueError("the development mid-sourcing password 'mid' is refused in production")
        if self.secret_key is not None and len(self.secret_key) < 32:
            raise ValueError("the secret key must have at least 32 characters")
        return self
