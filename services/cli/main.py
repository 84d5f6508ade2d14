"""The ``mcsim`` command line: ``up``, ``status``, ``send``, ``reset``, ``clock``, ``package``,
``bench``, ``version``."""

from __future__ import annotations

import asyncio
import enum
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer

from services.cli.clock import clock_call
from services.cli.display import make_console
from services.cli.package import PackageCommandError, export_to_file, import_file
from services.cli.plan import MAX_INSTANCES, StackOptions
from services.cli.reset import ControlCommandError, control_url, reset_cell
from services.cli.send import FINAL, SendRequest, send_event
from services.cli.status import run_status
from services.cli.supervisor import SupervisorSettings
from services.cli.up import print_plan, run_up
from services.clock import describe_offset
from services.settings import Environment, LogFormat
from services.version import VERSION

__all__ = ["app", "main"]

app = typer.Typer(
    name="mcsim",
    help="mcsim — a local emulator of the Adobe Campaign Message Center.",
    no_args_is_help=True,
    add_completion=False,
)


class Channel(enum.StrEnum):
    """Channels of ``mcsim send``."""

    EMAIL = "email"
    SMS = "sms"
    IOS = "ios"
    ANDROID = "android"


class LogLevel(enum.StrEnum):
    """Log levels the services accept."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


_PORTS = "Ports"
_STORAGE = "Storage"
_PROCESSES = "Processes of each execution instance"

Host = Annotated[
    str,
    typer.Option(
        envvar="MCSIM_HOST", help="Address every service binds to.", rich_help_panel=_PORTS
    ),
]
LbPort = Annotated[
    int,
    typer.Option(
        envvar="MCSIM_LB_PORT",
        min=1,
        max=65535,
        help="Port of the load balancer.",
        rich_help_panel=_PORTS,
    ),
]
ControlPort = Annotated[
    int,
    typer.Option(
        envvar="MCSIM_CONTROL_PORT",
        min=1,
        max=65535,
        help="Port of the control instance.",
        rich_help_panel=_PORTS,
    ),
]
MidPort = Annotated[
    int,
    typer.Option(
        envvar="MCSIM_MID_PORT",
        min=1,
        max=65535,
        help="Port of the mid-sourcing server.",
        rich_help_panel=_PORTS,
    ),
]
ExecBasePort = Annotated[
    int,
    typer.Option(
        envvar="MCSIM_EXEC_BASE_PORT",
        min=1,
        max=65535,
        help="Execution instance k listens on this port + k - 1.",
        rich_help_panel=_PORTS,
    ),
]
Instances = Annotated[
    int,
    typer.Option(
        envvar="MCSIM_INSTANCES",
        min=1,
        max=MAX_INSTANCES,
        help="Number of execution instances (instance ids 1..N).",
        rich_help_panel=_PORTS,
    ),
]
DataDir = Annotated[
    Path,
    typer.Option(
        envvar="MCSIM_DATA_DIR",
        file_okay=False,
        help="Folder for SQLite files, logs and stack.json.",
        rich_help_panel=_STORAGE,
    ),
]


@app.command()
def up(
    host: Host = "127.0.0.1",
    lb_port: LbPort = 8080,
    control_port: ControlPort = 8070,
    mid_port: MidPort = 8090,
    exec_base_port: ExecBasePort = 8081,
    instances: Instances = 2,
    data_dir: DataDir = Path(".mcsim"),
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="MCSIM_DATABASE_URL",
            rich_help_panel=_STORAGE,
            help="PostgreSQL URL shared by every service, each in its own schema "
            "(default: one SQLite file per service under the data dir).",
        ),
    ] = None,
    schema_prefix: Annotated[
        str,
        typer.Option(
            envvar="MCSIM_SCHEMA_PREFIX",
            rich_help_panel=_STORAGE,
            help="With --database-url: schemas are PREFIX_control, PREFIX_mid, PREFIX_exec_1, …",
        ),
    ] = "mcsim",
    demo: Annotated[
        bool,
        typer.Option(
            "--demo/--no-demo",
            envvar="MCSIM_DEMO",
            help="Create the demo workspace (event types, published templates, seeds).",
        ),
    ] = True,
    environment: Annotated[
        Environment,
        typer.Option(
            envvar="MCSIM_ENVIRONMENT",
            case_sensitive=False,
            help="Environment of every service (development credentials are refused "
            "in production).",
        ),
    ] = Environment.DEVELOPMENT,
    startup_timeout: Annotated[
        float,
        typer.Option(
            envvar="MCSIM_STARTUP_TIMEOUT",
            min=1,
            help="Seconds to wait until every service answers GET /health.",
        ),
    ] = 30.0,
    stop_timeout: Annotated[
        float,
        typer.Option(
            envvar="MCSIM_STOP_TIMEOUT",
            min=0,
            help="Seconds a service gets to stop after SIGTERM before SIGKILL.",
        ),
    ] = 10.0,
    log_level: Annotated[
        LogLevel,
        typer.Option(
            envvar="MCSIM_LOG_LEVEL", case_sensitive=False, help="Log level of every service."
        ),
    ] = LogLevel.INFO,
    log_format: Annotated[
        LogFormat,
        typer.Option(
            envvar="MCSIM_LOG_FORMAT",
            case_sensitive=False,
            help="Format of the services' log files.",
        ),
    ] = LogFormat.JSON,
    web_processes: Annotated[
        int | None,
        typer.Option(
            envvar="MCSIM_EXEC_WEB_PROCESSES",
            min=1,
            max=32,
            rich_help_panel=_PROCESSES,
            help="HTTP processes of each execution instance (sharing its port). "
            "Default: one per two of the instance's cores (the usable cores shared out between "
            "the instances).",
        ),
    ] = None,
    processing_processes: Annotated[
        int | None,
        typer.Option(
            envvar="MCSIM_EXEC_PROCESSING_PROCESSES",
            min=0,
            max=32,
            rich_help_panel=_PROCESSES,
            help="Processing processes of each execution instance (claim, render, hand over). "
            "Default: one per two of the instance's cores; 0 with --web-processes 1: one "
            "process in all.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the processes, ports and environment variables as JSON; start nothing.",
        ),
    ] = False,
) -> None:
    """Start the whole stack as processes and supervise it until Ctrl-C."""
    options = StackOptions(
        host=host,
        lb_port=lb_port,
        control_port=control_port,
        mid_port=mid_port,
        exec_base_port=exec_base_port,
        instances=instances,
        web_processes=web_processes,
        processing_processes=processing_processes,
        data_dir=data_dir.expanduser().resolve(),
        database_url=database_url or None,
        schema_prefix=schema_prefix,
        demo=demo,
        environment=environment,
        log_level=log_level.value,
        log_format=log_format,
    )
    console, err_console = make_console(), make_console(stderr=True)
    if dry_run:
        raise typer.Exit(print_plan(options, console=console, err_console=err_console))
    settings = SupervisorSettings(startup_timeout=startup_timeout, stop_timeout=stop_timeout)
    code = run_up(options, settings, console=console, err_console=err_console)
    raise typer.Exit(code)


@app.command()
def status(
    data_dir: DataDir = Path(".mcsim"),
    host: Host = "127.0.0.1",
    lb_port: LbPort = 8080,
    control_port: ControlPort = 8070,
    mid_port: MidPort = 8090,
    exec_base_port: ExecBasePort = 8081,
    instances: Instances = 2,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for each service's answer.")
    ] = 3.0,
) -> None:
    """Print the health of every service of a running stack (exit 1 when one is down).

    The services are read from DATA_DIR/stack.json; without it, the ports options say where
    to look.
    """
    fallback = StackOptions(
        host=host,
        lb_port=lb_port,
        control_port=control_port,
        mid_port=mid_port,
        exec_base_port=exec_base_port,
        instances=instances,
    )
    code = run_status(data_dir.expanduser(), fallback, console=make_console(), timeout=timeout)
    raise typer.Exit(code)


@app.command()
def send(
    event_type: Annotated[str, typer.Argument(help="Event type, e.g. PASSWORD_RESET.")],
    email: Annotated[str | None, typer.Option(help="Recipient email address.")] = None,
    channel: Annotated[Channel, typer.Option(help="email, sms, ios or android.")] = Channel.EMAIL,
    phone: Annotated[str | None, typer.Option(help="Mobile phone (E.164) for SMS.")] = None,
    device_token: Annotated[str | None, typer.Option(help="Device token for push.")] = None,
    app_uuid: Annotated[str | None, typer.Option("--app", help="Push application uuid.")] = None,
    ctx: Annotated[
        list[str] | None, typer.Option(help="Context values key=value (repeatable).")
    ] = None,
    batch: Annotated[bool, typer.Option(help="Send to the batch queue.")] = False,
    wait: Annotated[
        float | None, typer.Option(help="Seconds to wait for a final status (REST polling).")
    ] = None,
    lb_url: Annotated[
        str, typer.Option(envvar="MCSIM_LB_URL", help="The load balancer's URL.")
    ] = "http://127.0.0.1:8080",
    credentials: Annotated[str, typer.Option(help="login/password for <sessiontoken>.")] = "mc/mc",
    token: Annotated[
        str, typer.Option(help="Technical token used to read the status.")
    ] = "mcsim-dev-token",  # noqa: S107 - the documented development token
) -> None:
    """Send one event over SOAP through the load balancer (and wait for its final status)."""
    pairs: dict[str, str] = {}
    for item in ctx or []:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise typer.BadParameter(f"{item!r} is not key=value", param_hint="--ctx")
        pairs[key] = value
    request = SendRequest(
        lb_url=lb_url.rstrip("/"),
        event_type=event_type,
        channel=channel.value,
        email=email,
        phone=phone,
        device_token=device_token,
        app=app_uuid,
        ctx=pairs,
        batch=batch,
        credentials=credentials,
        bearer=token,
    )
    console = make_console()
    try:
        result = asyncio.run(send_event(request, wait=wait))
    except (RuntimeError, httpx.HTTPError) as exc:
        make_console(stderr=True).print(f"[red]not sent:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"plId {result.pl_id} (execution instance {result.instance_id})")
    if result.status is not None:
        console.print(f"status {result.status} after {result.waited_s} s")
        if result.error:
            console.print(f"error  {result.error}")
        if result.status not in FINAL:
            raise typer.Exit(2)


ControlOption = Annotated[
    str | None,
    typer.Option(
        "--control",
        envvar="MCSIM_CONTROL_URL",
        help="The control instance's URL (default: from DATA_DIR/stack.json, else the port).",
    ),
]
AdminLogin = Annotated[str, typer.Option("--login", help="Control operator (admin role).")]
AdminPassword = Annotated[
    str, typer.Option(envvar="MCSIM_CONTROL_ADMIN_PASSWORD", help="Its password.")
]
AdminToken = Annotated[
    str | None,
    typer.Option(
        envvar="MCSIM_CONTROL_TOKEN",
        help="Bearer token from POST /api/v1/auth/login, instead of --login/--password.",
    ),
]


@app.command()
def reset(
    data_dir: DataDir = Path(".mcsim"),
    control: ControlOption = None,
    control_port: ControlPort = 8070,
    host: Host = "127.0.0.1",
    login: AdminLogin = "admin",
    password: AdminPassword = "admin",  # noqa: S107 - the documented development password
    token: AdminToken = None,
) -> None:
    """Forget every event, message, delivery log, quarantine, chaos and archived event of the
    running stack; keep its configuration (refused in production)."""
    err = make_console(stderr=True)
    try:
        url = control or control_url(
            data_dir.expanduser(), StackOptions(host=host, control_port=control_port)
        )
        result = reset_cell(url, token=token, login=login, password=password)
    except ControlCommandError as exc:
        err.print(f"[red]not reset:[/red] {exc}")
        raise typer.Exit(1) from None
    console = make_console()
    for outcome in result.services:
        if outcome.ok:
            removed = ", ".join(f"{n} {_words(name)}" for name, n in outcome.removed.items())
            console.print(f"  [green]✓[/green] {outcome.service}: {removed or 'nothing to remove'}")
        else:
            console.print(f"  [red]✗[/red] {outcome.service}: {outcome.error}")
    if not result.complete:
        err.print("[red]the reset is incomplete:[/red] reset again once every service is up")
        raise typer.Exit(1)
    console.print("[green]reset done[/green]: the configuration is kept")


def _words(name: str) -> str:
    """Return a camelCase key as words: ``deliveryLogs`` -> ``delivery logs``."""
    return "".join(f" {c.lower()}" if c.isupper() else c for c in name)


class ClockAction(enum.StrEnum):
    """What ``mcsim clock`` does."""

    SHOW = "show"
    ADVANCE = "advance"
    SET = "set"
    RESET = "reset"


@app.command()
def clock(
    action: Annotated[ClockAction, typer.Argument(help="show, advance, set or reset.")],
    value: Annotated[
        str | None,
        typer.Argument(
            help="advance: how much (2h, 90m, 1d 6h, 45s, 1w); set: the new time, ISO 8601 "
            "with its zone (2027-01-01T08:00Z)."
        ),
    ] = None,
    data_dir: DataDir = Path(".mcsim"),
    control: ControlOption = None,
    control_port: ControlPort = 8070,
    host: Host = "127.0.0.1",
    login: AdminLogin = "admin",
    password: AdminPassword = "admin",  # noqa: S107 - the documented development password
    token: AdminToken = None,
) -> None:
    """Read or move the running stack's virtual clock (development and test stacks): advance
    makes scheduled events due, ends expirations, retries, quarantines and sessions, runs
    purges; reset goes back to real time."""
    err = make_console(stderr=True)
    needs_value = action in (ClockAction.ADVANCE, ClockAction.SET)
    if needs_value != (value is not None):
        wanted = "needs a value (2h, or a time)" if needs_value else "takes no value"
        err.print(f"[red]mcsim clock {action.value} {wanted}[/red]")
        raise typer.Exit(2)
    changes: dict[ClockAction, dict[str, object] | None] = {
        ClockAction.SHOW: None,
        ClockAction.ADVANCE: {"advance": value},
        ClockAction.SET: {"to": value},
        ClockAction.RESET: {"reset": True},
    }
    change = changes[action]
    try:
        url = control or control_url(
            data_dir.expanduser(), StackOptions(host=host, control_port=control_port)
        )
        cell = clock_call(url, change, token=token, login=login, password=password)
    except ControlCommandError as exc:
        err.print(f"[red]clock {'not moved' if change else 'unknown'}:[/red] {exc}")
        raise typer.Exit(1) from None
    console = make_console()
    console.print(f"now {cell.now} ({describe_offset(cell.offset_seconds)})")
    for service in cell.services:
        if service.ok:
            shown = describe_offset(float(service.offset_seconds or 0.0))
            console.print(f"  [green]✓[/green] {service.service}: {shown}")
        else:
            console.print(f"  [red]✗[/red] {service.service}: {service.error}")
    if not cell.in_step:
        err.print(
            "[red]the services' clocks disagree[/red]: move the clock again (set, advance or "
            "reset) once every service is up"
        )
        raise typer.Exit(1)


package_app = typer.Typer(
    help="Move configuration between control instances as Campaign-style XML packages.",
    no_args_is_help=True,
)
app.add_typer(package_app, name="package")

ControlUrl = Annotated[
    str,
    typer.Option("--control", envvar="MCSIM_CONTROL_URL", help="The control instance's URL."),
]
Token = Annotated[
    str,
    typer.Option(
        envvar="MCSIM_CONTROL_TOKEN",
        help="Bearer token from POST /api/v1/auth/login (export: editor; import: admin).",
    ),
]


@package_app.command("export")
def package_export(
    token: Token,
    out: Annotated[Path, typer.Option(dir_okay=False, help="File to write the package to.")],
    control: ControlUrl = "http://127.0.0.1:8070",
    template: Annotated[
        list[str] | None,
        typer.Option(help="Template to export, with its event type and seeds (repeatable)."),
    ] = None,
    event_type: Annotated[
        list[str] | None, typer.Option(help="Event type to export (repeatable).")
    ] = None,
    account: Annotated[
        list[str] | None,
        typer.Option(
            help="Execution-instance account to export (only when named; never its password)."
        ),
    ] = None,
    technical_account: Annotated[
        list[str] | None,
        typer.Option(
            help="Client id of a technical account (IMS) to export (only when named; never a "
            "secret)."
        ),
    ] = None,
) -> None:
    """Export templates, event types, seeds and named accounts (default: all but accounts)."""
    try:
        exported = export_to_file(
            control=control,
            token=token,
            out=out,
            templates=template or [],
            event_types=event_type or [],
            accounts=account or [],
            technical_accounts=technical_account or [],
        )
    except PackageCommandError as exc:
        make_console(stderr=True).print(f"[red]not exported:[/red] {exc}")
        raise typer.Exit(1) from None
    typer.echo(
        f"exported {exported.size} bytes from the {exported.environment} control instance "
        f"{control} to {exported.path}"
    )


@package_app.command("import")
def package_import(
    token: Token,
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The package file.")],
    control: ControlUrl = "http://127.0.0.1:8070",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List the changes; change nothing.")
    ] = False,
) -> None:
    """Import a package: created / updated / unchanged per entity, applied all or nothing."""
    try:
        environment, report = import_file(control=control, token=token, path=file, dry_run=dry_run)
    except PackageCommandError as exc:
        make_console(stderr=True).print(f"[red]not imported:[/red] {exc}")
        raise typer.Exit(1) from None
    for change in report["changes"]:
        fields = f" ({', '.join(change['fields'])})" if change["fields"] else ""
        note = f" - {change['note']}" if change["note"] else ""
        typer.echo(f"{change['action']:<9} {change['schema_name']} {change['key']}{fields}{note}")
    outcome = "applied" if report["applied"] else "nothing changed"
    typer.echo(
        f"{'dry run on' if dry_run else 'import into'} the {environment} control instance: "
        f"{report['created']} created, {report['updated']} updated, "
        f"{report['unchanged']} unchanged; {outcome}"
    )


class Benchmark(enum.StrEnum):
    """The benchmarks of ``benchmarks/`` (results and commands in benchmarks/RESULTS.md)."""

    INTAKE = "intake"
    DELIVERY = "delivery"
    LB = "lb"
    RENDER = "render"
    STACK = "stack"
    STORED = "stored"
    FOOTPRINT = "footprint"
    CHAOS = "chaos"
    SOAK = "soak"
    DRAIN = "drain"


#: The source checkout this command runs from, where ``benchmarks/`` lives (not installed).
_CHECKOUT = Path(__file__).resolve().parents[2]


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    context: typer.Context,
    name: Annotated[Benchmark, typer.Argument(help="Which benchmark to run.")],
) -> None:
    """Run a benchmark of benchmarks/ (stack, stored, footprint, intake, ...); options go to it.

    ``mcsim bench intake -- --help`` lists the benchmark's own options. The benchmarks need
    wrk (intake, lb) and nginx (lb), Debian packages, and run from a source checkout of mcsim;
    render needs neither (it renders templates in this process).
    """
    if not (_CHECKOUT / "benchmarks" / f"{name.value}.py").is_file():
        typer.echo(
            f"mcsim bench runs from a source checkout of mcsim: {_CHECKOUT / 'benchmarks'} "
            "is not there (the benchmarks are not installed with the package)",
            err=True,
        )
        raise typer.Exit(2)
    command = [sys.executable, "-m", f"benchmarks.{name.value}", *context.args]
    # The command is this Python running one of our own modules, with the caller's options.
    outcome = subprocess.run(command, cwd=_CHECKOUT, check=False)  # noqa: S603
    raise typer.Exit(outcome.returncode)


@app.command()
def version() -> None:
    """Print the version of mcsim."""
    typer.echo(f"mcsim {VERSION}")


def main() -> None:
    """Run the ``mcsim`` command."""
    app()


if __name__ == "__main__":
    main()
