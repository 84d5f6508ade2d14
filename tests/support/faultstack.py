"""A real stack with a fault proxy on every link, and the means to kill, pause or restart it.

``mcsim up`` wires the services straight to each other. :func:`start_fault_stack` runs the same
plan through the same supervisor (this module, run as ``python -m tests.support.faultstack``
with a JSON spec), but with the links rerouted through :mod:`services.testing.faultproxy`
proxies living in the test process:

- load balancer → execution instance k (``stack.lb_links[k]``);
- execution instance k → mid-sourcing (``stack.mid_links[k]``);
- mid-sourcing → the SMTP relay, a :class:`~tests.support.smtp.SmtpSink` (``stack.smtp_link``);
- every service → PostgreSQL when a database URL is given (``stack.db_link``).

The supervisor restarts a child that dies (backoff 0.5 s, at most 2 s here); an execution
instance's master restarts its own web and processing processes. The process helpers are those
of :class:`tests.support.processes.StackProcesses`::

    stack.kill("execution-1")                    # SIGKILL its whole process group
    stack.kill_process("execution-2", "processing")  # one process of an instance
    stack.pause("execution-2"); stack.resume("execution-2")   # SIGSTOP / SIGCONT the group
    stack.restart("midsourcing")                 # SIGTERM, the supervisor starts it again
    stack.wait_healthy("midsourcing")
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.cli.plan import StackOptions, StackPlan, plan_stack
from services.testing.faultproxy import ProxyControl, ProxyThread
from tests.support.processes import StackProcesses
from tests.support.smtp import SmtpSink
from tests.support.stack import HOST, StackPorts, StackRunner, free_ports

__all__ = ["FaultStack", "start_fault_stack"]

#: Restart quickly: faults come every few seconds.
SUPERVISOR = {
    "startup_timeout": 90.0,
    "stop_timeout": 5.0,
    "backoff_initial": 0.5,
    "backoff_max": 2.0,
    "backoff_reset_after": 10.0,
}


@dataclass(kw_only=True)
class FaultStack(StackProcesses):
    """A running stack whose links go through fault proxies."""

    proxies: ProxyThread
    relay: SmtpSink
    lb_links: dict[int, ProxyControl]
    mid_links: dict[int, ProxyControl]
    smtp_link: ProxyControl
    db_link: ProxyControl | None
    #: Wall-clock times at which the link to the SMTP relay was cut (open connections reset)
    #: and restored (infinity while it is cut).
    smtp_cuts: list[tuple[float, float]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the stack, the proxies and the relay."""
        try:
            self.runner.cleanup()
        finally:
            self.proxies.stop()


@contextlib.contextmanager
def start_fault_stack(
    data_dir: Path,
    relay: SmtpSink,
    *,
    instances: int = 2,
    database_url: str | None = None,
    database_port: int | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    ready: bool = True,
) -> Iterator[FaultStack]:
    """Run the demo stack with a fault proxy on each link; yield it once every service is up
    (at once with ``ready=False``: the test then waits with ``stack.runner.wait_ready()``).

    ``database_url`` (PostgreSQL) is used through a proxy to ``127.0.0.1:database_port``:
    the URL must name that port, it is rewritten to the proxy's.
    """
    ports = free_ports(instances)
    proxies = ProxyThread().start()
    try:
        lb_links = {k: proxies.add(HOST, ports.exec_base + k - 1) for k in range(1, instances + 1)}
        mid_links = {k: proxies.add(HOST, ports.mid) for k in range(1, instances + 1)}
        smtp_link = proxies.add(relay.host, relay.port)
        db_link = None
        if database_url is not None:
            assert database_port is not None
            db_link = proxies.add(HOST, database_port)
            database_url = database_url.replace(f":{database_port}/", f":{db_link.port}/")
        changes: dict[str, dict[str, str]] = {
            "load_balancer": {
                "MCSIM_LB_BACKENDS": json.dumps([lb_links[k].url for k in sorted(lb_links)]),
                # two workers and a health checker whatever the cores: the chaos kills each
                "MCSIM_LB_WORKERS": "2",
            },
            "midsourcing": {
                "MCSIM_MID_SMTP_HOST": HOST,
                "MCSIM_MID_SMTP_PORT": str(smtp_link.port),
            },
        }
        for k, link in mid_links.items():
            changes[f"execution-{k}"] = {"MCSIM_EXEC_MIDSOURCING_URL": link.url}
        for name, more in (overrides or {}).items():
            changes.setdefault(name, {}).update(more)
        runner = _launch(data_dir, ports, database_url, changes, env or {})
        stack = FaultStack(
            runner=runner,
            proxies=proxies,
            relay=relay,
            lb_links=lb_links,
            mid_links=mid_links,
            smtp_link=smtp_link,
            db_link=db_link,
        )
    except BaseException:
        proxies.stop()
        raise
    try:
        if ready:
            runner.wait_ready(timeout=120)
        yield stack
    finally:
        stack.stop()


def _launch(
    data_dir: Path,
    ports: StackPorts,
    database_url: str | None,
    changes: Mapping[str, Mapping[str, str]],
    env: Mapping[str, str],
) -> StackRunner:
    data_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "options": {
            "host": HOST,
            "lb_port": ports.lb,
            "control_port": ports.control,
            "mid_port": ports.mid,
            "exec_base_port": ports.exec_base,
            "instances": ports.instances,
            "data_dir": str(data_dir.resolve()),
            "database_url": database_url,
            "demo": True,
            # a web and a processing process in each instance, whatever the cores: the chaos
            # kills each kind apart
            "web_processes": 1,
            "processing_processes": 1,
        },
        "changes": changes,
        "supervisor": SUPERVISOR,
    }
    spec_file = data_dir.parent / f"{data_dir.name}.faultstack.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    output = data_dir.parent / f"{data_dir.name}.mcsim-output.txt"
    with open(output, "ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.faultstack", str(spec_file)],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=Path(__file__).resolve().parents[2],
            start_new_session=True,
        )
    return StackRunner(process, data_dir, ports, output)


# -- the supervisor side (python -m tests.support.faultstack SPEC) ------------------------------


def _rewired(plan: StackPlan, changes: Mapping[str, Mapping[str, str]]) -> StackPlan:
    services = tuple(
        dataclasses.replace(s, env={**s.env, **changes.get(s.name, {})}) for s in plan.services
    )
    return dataclasses.replace(plan, services=services)


def _supervise(spec: dict[str, Any]) -> int:
    # Imported here: the test process needs none of this.
    from rich.console import Console

    from services.cli.supervisor import Supervisor, SupervisorSettings
    from services.logging_setup import JsonFormatter
    from services.private_files import private_process, secure_data_dir

    raw = dict(spec["options"])
    raw["data_dir"] = Path(raw["data_dir"])
    plan = _rewired(plan_stack(StackOptions(**raw)), spec["changes"])
    private_process()
    secure_data_dir(plan.data_dir, plan.log_dir)
    handler = logging.FileHandler(plan.supervisor_log, encoding="utf-8")
    handler.setFormatter(JsonFormatter("supervisor", None))
    log = logging.getLogger("mcsim.supervisor")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    supervisor = Supervisor(
        plan,
        SupervisorSettings(**spec["supervisor"]),
        console=Console(width=120, force_terminal=False),
        base_env=dict(os.environ),
        log=log,
    )
    return asyncio.run(supervisor.run())


def main() -> None:
    """Run the supervisor on the spec file named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec", type=Path)
    spec = json.loads(parser.parse_args().spec.read_text(encoding="utf-8"))
    # If the test process dies, stop the stack (the supervisor stops its children on SIGTERM).
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)
    raise SystemExit(_supervise(spec))


if __name__ == "__main__":
    main()
