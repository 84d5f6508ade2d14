"""What ``mcsim`` prints: the ready banner, failure reports and the status table."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from services import dev_credentials
from services.cli.health import Health
from services.cli.plan import StackPlan
from services.clock import describe_offset
from services.settings import Environment

__all__ = [
    "DEV_ADMIN",
    "DEV_OPERATOR",
    "DEV_TOKEN",
    "failure_panel",
    "make_console",
    "ready_banner",
    "status_table",
]

DEV_OPERATOR = dev_credentials.OPERATOR
DEV_ADMIN = dev_credentials.ADMIN
DEV_TOKEN = dev_credentials.TECHNICAL_TOKEN


def make_console(*, stderr: bool = False) -> Console:
    """Return a console; wide enough for URLs when the output is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() or "COLUMNS" in os.environ else 160
    return Console(stderr=stderr, width=width, highlight=False)


def ready_banner(plan: StackPlan, pids: dict[str, int | None]) -> Group:
    """Return the table of URLs and credentials shown once every service answers."""
    urls = Table(title="mcsim services", title_justify="left", expand=False)
    urls.add_column("service", style="bold")
    urls.add_column("URL", no_wrap=True)
    urls.add_column("pid", justify="right")
    lb = plan.get("load_balancer")
    urls.add_row("load balancer", plan.lb_url, _pid(pids, lb.name))
    urls.add_row("  SOAP router", plan.soap_router_url, "")
    urls.add_row("  WSDL (nms:rtEvent)", plan.wsdl_url, "")
    for execution in plan.executions:
        urls.add_row(
            f"execution instance {execution.instance_id}", execution.url, _pid(pids, execution.name)
        )
    urls.add_row("control console", plan.control_url + "/", _pid(pids, "control"))
    urls.add_row("  control API docs", plan.control_url + "/docs", "")
    urls.add_row("  IMS token (OAuth)", plan.control_url + "/ims/token/v3", "")
    urls.add_row("mid-sourcing mailbox", plan.mid_url + "/", _pid(pids, "midsourcing"))

    parts: list[Table | Text] = [
        urls,
        _credentials(plan.options.environment, demo=plan.options.demo),
    ]
    parts.append(Text.assemble(("data dir  ", "bold"), str(plan.data_dir)))
    parts.append(Text.assemble(("logs      ", "bold"), str(plan.log_dir)))
    return Group(*parts)


def _credentials(environment: Environment, *, demo: bool) -> Table | Text:
    if environment is Environment.PRODUCTION:
        return Text(
            "Development credentials (mc/mc, admin/admin, mcsim-dev-token, the control-plane "
            "and balancer admin secrets) are disabled in production: set real ones.",
            style="yellow",
        )
    table = Table(title="development credentials", title_justify="left")
    table.add_column("for", style="bold")
    table.add_column("login / secret", no_wrap=True)
    table.add_row("execution operator (SOAP)", "{} / {}".format(*DEV_OPERATOR))
    table.add_row("control console and API", "{} / {}".format(*DEV_ADMIN))
    table.add_row("technical token (Bearer)", DEV_TOKEN)
    if demo:
        table.add_row(
            "IMS client id / secret (demo)", "{} / {}".format(*dev_credentials.IMS_CLIENT)
        )
    table.add_row("control plane /_mc/ (Basic)", "{} / {}".format(*dev_credentials.CONTROL_PLANE))
    table.add_row("balancer admin /_lb/backends", dev_credentials.LB_ADMIN_TOKEN)
    return table


def _pid(pids: dict[str, int | None], name: str) -> str:
    pid = pids.get(name)
    return "" if pid is None else str(pid)


def failure_panel(title: str, lines: Sequence[str], *, log_file: str) -> Group:
    """Return a failure's title (wrapped, never cut to the terminal's width as a panel title
    is) above a panel with the last lines of the service's log."""
    body = Text("\n".join(lines) if lines else "(the log is empty)")
    footer = Text(f"full log: {log_file}", style="dim")
    return Group(
        Text(title, style="bold red"),
        Panel(
            Group(body, footer),
            title="the end of its log",
            title_align="left",
            border_style="red",
            expand=True,
        ),
    )


def status_table(rows: Sequence[tuple[str, str, Health]]) -> Table:
    """Return the ``mcsim status`` table: one row per (label, url, health)."""
    table = Table(title="mcsim status", title_justify="left")
    columns = (
        "service",
        "URL",
        "status",
        "instance",
        "processes",
        "version",
        "database",
        "uptime",
        "clock",
    )
    for column in columns:
        table.add_column(column, no_wrap=column == "URL")
    for label, url, health in rows:
        if health.up:
            status = Text(health.field("status"), style="green")
        else:
            status = Text(f"down: {health.error or health.field('status')}", style="red")
        table.add_row(
            label,
            url,
            status,
            health.field("instance_id"),
            _processes(health.report.get("processes")),
            health.field("version"),
            health.field("database"),
            _uptime(health.report.get("uptime_s")),
            _clock(health.report.get("clock_offset_s")),
        )
    return table


def _clock(value: object) -> str:
    """Return a service's virtual clock: ``real time`` or how far ahead it runs."""
    if not isinstance(value, int | float):
        return "-"
    return describe_offset(float(value))


def _processes(value: object) -> str:
    """Return the processes of a service as ``web-0 123, processing-0 124`` (``1``: one)."""
    if not isinstance(value, list) or not value:
        return "1"
    return ", ".join(
        f"{entry.get('role')} {entry.get('pid')}" for entry in value if isinstance(entry, dict)
    )


def _uptime(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    seconds = int(value)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{value:.1f}s"
