"""The stack plan: which processes ``mcsim up`` starts, on which ports, with which environment.

:func:`plan_stack` is a pure function of :class:`StackOptions`. Every child is configured only
through environment variables with its service's prefix (``MCSIM_LB_``, ``MCSIM_EXEC_``,
``MCSIM_CONTROL_``, ``MCSIM_MID_``), named after the fields of that service's settings class.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services.cli.errors import PlanError
from services.prefork import usable_cores
from services.settings import Environment, LogFormat

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

__all__ = [
    "CONTROL_PREFIX",
    "EXEC_PREFIX",
    "LB_PREFIX",
    "MAX_INSTANCES",
    "MID_PREFIX",
    "SOAP_ROUTER_PATH",
    "ServicePlan",
    "StackOptions",
    "StackPlan",
    "describe_plan",
    "plan_stack",
    "url_host",
]

LB_PREFIX = "MCSIM_LB_"
EXEC_PREFIX = "MCSIM_EXEC_"
CONTROL_PREFIX = "MCSIM_CONTROL_"
MID_PREFIX = "MCSIM_MID_"

#: Execution instance ids are one byte: the high byte of every ``plId``.
MAX_INSTANCES = 255
SOAP_ROUTER_PATH = "/nl/jsp/soaprouter.jsp"
WSDL_PATH = "/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent"

_SCHEMA_PREFIX = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class StackOptions:
    """What the person running ``mcsim up`` chose (every field has the documented default)."""

    host: str = "127.0.0.1"
    lb_port: int = 8080
    control_port: int = 8070
    mid_port: int = 8090
    exec_base_port: int = 8081
    instances: int = 2
    #: HTTP and processing processes of each execution instance (None: from the cores).
    web_processes: int | None = None
    processing_processes: int | None = None
    data_dir: Path = Path(".mcsim")
    database_url: str | None = None
    schema_prefix: str = "mcsim"
    demo: bool = True
    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.JSON
    python: str = field(default_factory=lambda: sys.executable)
    #: Proves the load balancer to the execution instances (X-Mcsim-Proxy-Secret): on one host
    #: every process connects from 127.0.0.1, so an address cannot (security review F2).
    proxy_secret: str = field(
        default_factory=lambda: secrets.token_urlsafe(32), repr=False, compare=False
    )


@dataclass(frozen=True)
class ServicePlan:
    """One child process of the stack."""

    name: str
    label: str
    service: str
    module: str
    port: int
    url: str
    instance_id: int | None
    env: Mapping[str, str]
    log_file: Path
    stage: int
    argv: tuple[str, ...]

    @property
    def health_url(self) -> str:
        """Return the URL of this service's ``GET /health``."""
        return f"{self.url}/health"


@dataclass(frozen=True)
class StackPlan:
    """Every process of the stack, in display order, and where the stack keeps its files."""

    options: StackOptions
    services: tuple[ServicePlan, ...]
    data_dir: Path
    log_dir: Path
    state_file: Path
    supervisor_log: Path
    lb_url: str
    control_url: str
    mid_url: str

    @property
    def soap_router_url(self) -> str:
        """Return the SOAP router's URL through the load balancer."""
        return self.lb_url + SOAP_ROUTER_PATH

    @property
    def wsdl_url(self) -> str:
        """Return the ``nms:rtEvent`` WSDL's URL through the load balancer."""
        return self.lb_url + WSDL_PATH

    @property
    def executions(self) -> tuple[ServicePlan, ...]:
        """Return the execution instances, by instance id."""
        return tuple(s for s in self.services if s.module == "execution_instance")

    def get(self, name: str) -> ServicePlan:
        """Return the service called ``name``."""
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def stages(self) -> list[tuple[ServicePlan, ...]]:
        """Return the services grouped by start stage: each stage waits for the previous one."""
        numbers = sorted({s.stage for s in self.services})
        return [tuple(s for s in self.services if s.stage == n) for n in numbers]


def describe_plan(plan: StackPlan) -> dict[str, object]:
    """Return the plan as JSON-ready data: every process, its port, URL and environment."""
    return {
        "data_dir": str(plan.data_dir),
        "state_file": str(plan.state_file),
        "services": [
            {
                "name": s.name,
                "label": s.label,
                "argv": list(s.argv),
                "port": s.port,
                "url": s.url,
                "instance_id": s.instance_id,
                "stage": s.stage,
                "log_file": str(s.log_file),
                "env": {key: _shown(key, value) for key, value in s.env.items()},
            }
            for s in plan.services
        ],
    }


def _shown(key: str, value: str) -> str:
    if key.endswith("_DATABASE_URL"):
        return _database_url(value).render_as_string(hide_password=True)
    if key.endswith("_SECRET"):
        return "***"
    return value


def url_host(host: str) -> str:
    """Return the host to put in URLs for a service bound to ``host``."""
    if host in {"", "0.0.0.0"}:
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def plan_stack(options: StackOptions) -> StackPlan:
    """Return the processes, ports and environments of the stack ``options`` describe."""
    _check(options)
    base = f"http://{url_host(options.host)}"
    lb_url = f"{base}:{options.lb_port}"
    control_url = f"{base}:{options.control_port}"
    mid_url = f"{base}:{options.mid_port}"
    exec_ports = [options.exec_base_port + k for k in range(options.instances)]
    exec_urls = [f"{base}:{port}" for port in exec_ports]
    log_dir = options.data_dir / "logs"

    def make(
        name: str,
        *,
        label: str,
        service: str,
        module: str,
        prefix: str,
        port: int,
        url: str,
        public_url: str,
        schema: str | None,
        extra: Mapping[str, str],
        stage: int = 0,
        instance_id: int | None = None,
    ) -> ServicePlan:
        env = _common_env(options, port=port, public_url=public_url, schema=schema)
        env.update(extra)
        return ServicePlan(
            name=name,
            label=label,
            service=service,
            module=module,
            port=port,
            url=url,
            instance_id=instance_id,
            env={prefix + key: value for key, value in env.items()},
            log_file=log_dir / f"{name}.log",
            stage=stage,
            argv=(options.python, "-m", module),
        )

    services = [
        make(
            "load_balancer",
            label="load balancer",
            service="load_balancer",
            module="load_balancer",
            prefix=LB_PREFIX,
            port=options.lb_port,
            url=lb_url,
            public_url=lb_url,
            schema=None,
            extra={"BACKENDS": json.dumps(exec_urls), "PROXY_SECRET": options.proxy_secret},
            # Its first health check of the backends decides their state: they must answer.
            stage=1,
        )
    ]
    for k, (port, url) in enumerate(zip(exec_ports, exec_urls, strict=True), start=1):
        services.append(
            make(
                f"execution-{k}",
                label=f"execution instance {k}",
                service="execution",
                module="execution_instance",
                prefix=EXEC_PREFIX,
                port=port,
                url=url,
                # Execution instances sit behind the load balancer: WSDLs and hrefs name it.
                public_url=lb_url,
                schema=f"exec_{k}",
                extra={
                    "INSTANCE_ID": str(k),
                    "MIDSOURCING_URL": mid_url,
                    # The IMS emulator: its signing keys verify access tokens locally.
                    "IMS_URL": control_url,
                    # X-Forwarded-For is believed only from the balancer, proved by the
                    # secret; no address is trusted for it.
                    "TRUSTED_PROXIES": "[]",
                    "PROXY_SECRET": options.proxy_secret,
                    **_processes(options),
                },
                instance_id=k,
            )
        )
    services.append(
        make(
            "control",
            label="control instance",
            service="control",
            module="control_instance",
            prefix=CONTROL_PREFIX,
            port=options.control_port,
            url=control_url,
            public_url=control_url,
            schema="control",
            extra={
                "EXECUTION_URLS": json.dumps(exec_urls),
                "LOAD_BALANCER_URL": lb_url,
                "MIDSOURCING_URL": mid_url,
                "DEMO": "true" if options.demo else "false",
            },
            # The control instance publishes (demo) templates to the execution instances at
            # start-up, so it starts once they answer.
            stage=1,
        )
    )
    services.append(
        make(
            "midsourcing",
            label="mid-sourcing server",
            service="midsourcing",
            module="midsourcing",
            prefix=MID_PREFIX,
            port=options.mid_port,
            url=mid_url,
            public_url=mid_url,
            schema="mid",
            extra={"CONSOLE_URL": control_url},  # the mailbox links a message to its event
        )
    )
    return StackPlan(
        options=options,
        services=tuple(services),
        data_dir=options.data_dir,
        log_dir=log_dir,
        state_file=options.data_dir / "stack.json",
        supervisor_log=log_dir / "supervisor.log",
        lb_url=lb_url,
        control_url=control_url,
        mid_url=mid_url,
    )


def _common_env(
    options: StackOptions, *, port: int, public_url: str, schema: str | None
) -> dict[str, str]:
    env = {
        "HOST": options.host,
        "PORT": str(port),
        "PUBLIC_URL": public_url,
        "DATA_DIR": str(options.data_dir),
        "ENVIRONMENT": options.environment.value,
        "LOG_LEVEL": options.log_level.upper(),
        "LOG_FORMAT": options.log_format.value,
    }
    # Without a database URL each service keeps the default of its settings: a SQLite file
    # under DATA_DIR. The load balancer (schema None) has no database at all.
    if options.database_url and schema is not None:
        env["DATABASE_URL"] = options.database_url
        env["DATABASE_SCHEMA"] = f"{options.schema_prefix}_{schema}"
    return env


def _check(options: StackOptions) -> None:
    if not 1 <= options.instances <= MAX_INSTANCES:
        raise PlanError(
            f"--instances must be between 1 and {MAX_INSTANCES}, not {options.instances}",
            detail="an execution instance id is one byte of every plId",
        )
    if options.processing_processes == 0 and (options.web_processes or 0) != 1:
        raise PlanError(
            "--processing-processes 0 runs the processing workers inside the HTTP process: "
            "it needs --web-processes 1",
            detail="or give the processing workers processes of their own (1 or more)",
        )
    wanted: dict[int, str] = {}
    ports = [
        ("load balancer (--lb-port)", options.lb_port),
        ("control instance (--control-port)", options.control_port),
        ("mid-sourcing server (--mid-port)", options.mid_port),
    ]
    ports += [
        (f"execution instance {k + 1} (--exec-base-port + {k})", options.exec_base_port + k)
        for k in range(options.instances)
    ]
    for who, port in ports:
        if not 1 <= port <= 65535:
            raise PlanError(f"port {port} of the {who} is not between 1 and 65535")
        if port in wanted:
            raise PlanError(f"port {port} is wanted by both the {wanted[port]} and the {who}")
        wanted[port] = who
    if options.database_url is not None:
        _check_database_url(options.database_url)
        if not _SCHEMA_PREFIX.match(options.schema_prefix):
            raise PlanError(
                f"invalid schema prefix {options.schema_prefix!r}",
                detail="use lower-case letters, digits and underscores (at most 41)",
            )


def _database_url(url: str) -> URL:
    # Imported here: SQLAlchemy and Alembic are a third of the supervisor's memory (about 25
    # MiB), and the supervisor needs them only for a --database-url.
    from sqlalchemy.engine import make_url

    from services.db import normalize_url

    return make_url(normalize_url(url))


def _check_database_url(url: str) -> None:
    from sqlalchemy.exc import ArgumentError

    try:
        backend = _database_url(url).get_backend_name()
    except ArgumentError:
        raise PlanError(
            "--database-url is not a database URL",
            detail="expected postgresql://user:password@host:5432/dbname",
        ) from None
    if backend != "postgresql":
        raise PlanError(
            f"--database-url must be a PostgreSQL URL, not {backend}",
            detail="every service keeps its own schema in that database; without "
            "--database-url each service gets a SQLite file under the data dir",
        )


def _processes(options: StackOptions) -> dict[str, str]:
    """Return the process settings of the execution instances.

    Unless a count was chosen, the usable cores are shared out between the instances: each
    counts on its part when it chooses its processes (``MCSIM_EXEC_CORES``).
    """
    chosen = {
        "WEB_PROCESSES": options.web_processes,
        "PROCESSING_PROCESSES": options.processing_processes,
    }
    if options.web_processes is None and options.processing_processes is None:
        chosen["CORES"] = max(1, usable_cores() // options.instances)
    return {name: str(value) for name, value in chosen.items() if value is not None}
