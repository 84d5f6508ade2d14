"""``mcsim up``: check the plan and the ports, then hand the stack to the supervisor."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from services.cli.errors import PlanError
from services.cli.plan import StackOptions, StackPlan, describe_plan, plan_stack
from services.cli.ports import find_busy_ports
from services.cli.state import read_state, supervisor_alive
from services.cli.supervisor import Supervisor, SupervisorSettings
from services.logging_setup import JsonFormatter
from services.private_files import private_process, secure_data_dir
from services.version import VERSION

__all__ = ["print_plan", "run_up"]


def print_plan(options: StackOptions, *, console: Console, err_console: Console) -> int:
    """Print, as JSON, the processes and environments ``mcsim up`` would start."""
    try:
        plan = plan_stack(options)
    except PlanError as exc:
        _print_plan_error(exc, err_console)
        return 2
    console.print_json(json.dumps(describe_plan(plan)))
    return 0


def run_up(
    options: StackOptions,
    settings: SupervisorSettings,
    *,
    console: Console,
    err_console: Console,
    base_env: Mapping[str, str] | None = None,
) -> int:
    """Start and supervise the stack ``options`` describe; return the process exit code."""
    try:
        plan = plan_stack(options)
    except PlanError as exc:
        _print_plan_error(exc, err_console)
        return 2
    if not _preflight(plan, err_console):
        err_console.print("Nothing was started.")
        return 1
    # The supervisor writes logs and stack.json, its children the databases: all private.
    private_process()
    secure_data_dir(plan.data_dir, plan.log_dir)
    console.print(
        f"mcsim {VERSION}: starting {len(plan.services)} services "
        f"(data dir {plan.data_dir}, environment {options.environment.value})"
    )
    with _supervisor_log(plan.supervisor_log) as log:
        supervisor = Supervisor(
            plan,
            settings,
            console=console,
            base_env=dict(os.environ if base_env is None else base_env),
            log=log,
        )
        return asyncio.run(supervisor.run())


def _print_plan_error(exc: PlanError, err_console: Console) -> None:
    err_console.print(f"[red]error:[/] {exc.message}")
    if exc.detail:
        err_console.print(f"  {exc.detail}")


def _preflight(plan: StackPlan, err_console: Console) -> bool:
    state = read_state(plan.state_file)
    if state is not None and state.supervisor_pid != os.getpid() and supervisor_alive(state):
        err_console.print(
            f"[red]error:[/] a stack is already running from {plan.data_dir} "
            f"(supervisor pid {state.supervisor_pid}); stop it first or use another --data-dir"
        )
        return False
    busy = find_busy_ports(plan)
    for port in busy:
        err_console.print(f"[red]error:[/] {port.describe(plan.options.host)}")
    if busy:
        err_console.print(
            "Free those ports or choose others (--lb-port, --exec-base-port, --control-port, "
            "--mid-port)."
        )
    return not busy


@contextmanager
def _supervisor_log(path: Path) -> Iterator[logging.Logger]:
    """Yield the supervisor's logger, writing JSON lines to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter("supervisor", None))
    log = logging.getLogger("mcsim.supervisor")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        yield log
    finally:
        log.removeHandler(handler)
        handler.close()
