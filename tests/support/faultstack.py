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
instance's master restarts its own web and processing processes. Process helpers::

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
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.cli.plan import StackOptions, StackPlan, plan_stack
from services.testing.faultproxy import ProxyControl, ProxyThread
from tests.support.smtp import SmtpSink
from tests.support.stack import HOST, StackPorts, StackRunner, free_ports, pid_alive, wait_until

__all__ = ["FaultStack", "start_fault_stack"]

#: Restart quickly: faults come every few seconds.
SUPERVISOR = {
    "startup_timeout": 90.0,
    "stop_timeout": 5.0,
    "backoff_initial": 0.5,
    "backoff_max": 2.0,
    "backoff_reset_after": 10.0,
}


def _url_port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@dataclass
class FaultStack:
    """A running stack whose links go through fault proxies."""

    runner: StackRunner
    proxies: ProxyThread
    relay: SmtpSink
    lb_links: dict[int, ProxyControl]
    mid_links: dict[int, ProxyControl]
    smtp_link: ProxyControl
    db_link: ProxyControl | None
    #: (wall-clock time, service name, what) of every process fault injected.
    injected: list[tuple[float, str, str]] = field(default_factory=list)

    # -- where things are ----------------------------------------------------------------

    @property
    def lb_url(self) -> str:
        """Return the load balancer's URL."""
        return self.runner.lb_url

    @property
    def mid_url(self) -> str:
        """Return the mid-sourcing server's URL."""
        return self.runner.mid_url

    def exec_url(self, instance_id: int) -> str:
        """Return execution instance ``instance_id``'s own URL (not through a proxy)."""
        return self.runner.exec_url(instance_id)

    def service_url(self, name: str) -> str:
        """Return the URL of the service called ``name`` (``execution-1``, ``control``, ...)."""
        state = self.runner.state()
        assert state is not None, "the stack is not running"
        return next(s.url for s in state.services if s.name == name)

    def pid(self, name: str) -> int:
        """Return the current pid of service ``name`` (its master for an execution instance)."""
        pid = self.runner.pids().get(name)
        assert pid is not None, f"{name} has no running process"
        return pid

    def processes(self, name: str) -> list[tuple[str, int]]:
        """Return (role, pid) of an execution instance's processes, from its ``/health``.

        Empty while the instance does not answer.
        """
        try:
            answer = httpx.get(self.service_url(name) + "/health", timeout=5, trust_env=False)
        except httpx.HTTPError:
            return []
        return [(p["role"], int(p["pid"])) for p in answer.json().get("processes") or []]

    # -- process faults ------------------------------------------------------------------

    def _note(self, name: str, what: str) -> None:
        self.injected.append((time.time(), name, what))

    def kill(self, name: str) -> int:
        """SIGKILL service ``name`` and everything it started; return the pid killed."""
        pid = self.pid(name)
        self._note(name, "SIGKILL")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        return pid

    def kill_process(self, name: str, role_prefix: str) -> int:
        """SIGKILL one process of an execution instance whose role starts with ``role_prefix``."""
        role, pid = next((r, p) for r, p in self.processes(name) if r.startswith(role_prefix))
        # The master restarts it; the supervisor is not involved.
        self._note(name, f"SIGKILL {role}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return pid

    def pause(self, name: str) -> None:
        """SIGSTOP service ``name``'s process group (it stops answering, sockets stay open)."""
        self._note(name, "SIGSTOP")
        os.killpg(self.pid(name), signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """SIGCONT service ``name``'s process group."""
        self._note(name, "SIGCONT")
        os.killpg(self.pid(name), signal.SIGCONT)

    def restart(self, name: str) -> None:
        """Stop service ``name`` with SIGTERM (the supervisor starts it again)."""
        pid = self.pid(name)
        self._note(name, "SIGTERM (restart)")
        os.killpg(pid, signal.SIGTERM)
        wait_until(lambda: not pid_alive(pid), timeout=15)

    def healthy(self, name: str) -> bool:
        """Return whether service ``name`` runs a new process that answers ``/health``."""
        state = self.runner.state()
        if state is None:
            return False
        service = next(s for s in state.services if s.name == name)
        if service.pid is None or not pid_alive(service.pid):
            return False
        try:
            answer = httpx.get(service.url + "/health", timeout=2, trust_env=False)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def wait_healthy(self, name: str, timeout: float = 60.0) -> float:
        """Wait until service ``name`` answers its health check; return the seconds it took."""
        started = time.monotonic()
        if not wait_until(lambda: self.healthy(name), timeout=timeout, interval=0.2):
            raise AssertionError(f"{name} not healthy within {timeout} s:\n{self.runner.output()}")
        return time.monotonic() - started

    def wait_all_healthy(self, timeout: float = 90.0) -> None:
        """Wait until every service answers its health check."""
        state = self.runner.state()
        assert state is not None
        for service in state.services:
            self.wait_healthy(service.name, timeout)

    def restarts(self) -> list[str]:
        """Return the children the supervisor saw exit unexpectedly, in order."""
        log = self.runner.data_dir / "logs" / "supervisor.log"
        exited: list[str] = []
        if log.exists():
            for line in log.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if entry.get("event") == "child_exited":
                        exited.append(str(entry["child"]))
        return exited

    def kill_times(self, name: str) -> list[float]:
        """Return the wall-clock times at which service ``name`` was SIGKILLed (whole)."""
        return [when for when, who, what in self.injected if who == name and what == "SIGKILL"]

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
                "MCSIM_LB_BACKENDS": json.dumps([lb_links[k].url for k in sorted(lb_links)])
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
        stack = FaultStack(runner, proxies, relay, lb_links, mid_links, smtp_link, db_link)
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
