"""The process supervisor behind ``mcsim up``: one asyncio loop that starts, watches and stops.

1. Start the services stage by stage and wait until each answers ``GET /health``
   (a child that exits, or the start-up timeout, stops everything: the stack never half-runs).
2. Announce the URLs, write ``stack.json``, then watch: a child that dies is reported and
   restarted with exponential backoff (reset once it has been healthy for a while).
3. On SIGINT / SIGTERM / SIGHUP: SIGTERM every child's process group, wait the grace period,
   SIGKILL what remains, remove ``stack.json``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from rich.console import Console

from services.cli.child import Child, describe_exit
from services.cli.display import failure_panel, ready_banner
from services.cli.health import Health, check_health, health_client
from services.cli.plan import StackPlan
from services.cli.state import ServiceState, StackState, remove_state, write_state

__all__ = ["Supervisor", "SupervisorSettings", "next_backoff"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class SupervisorSettings:
    """How patient the supervisor is."""

    startup_timeout: float = 30.0
    stop_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    backoff_reset_after: float = 60.0
    poll_interval: float = 0.2
    health_timeout: float = 2.0
    tail_lines: int = 20


def next_backoff(previous: float | None, healthy_for: float, settings: SupervisorSettings) -> float:
    """Return how long to wait before restarting a child that just died.

    The first restart waits ``backoff_initial``; each further one twice the previous delay, up
    to ``backoff_max``; a child that had been healthy for ``backoff_reset_after`` starts over.
    """
    if previous is None or healthy_for >= settings.backoff_reset_after:
        return settings.backoff_initial
    return min(previous * 2, settings.backoff_max)


class _Outcome(enum.Enum):
    READY = "ready"
    FAILED = "failed"
    STOPPED = "stopped"


class Supervisor:
    """Run one stack plan until asked to stop; :meth:`run` returns the exit code."""

    def __init__(
        self,
        plan: StackPlan,
        settings: SupervisorSettings,
        *,
        console: Console,
        base_env: Mapping[str, str],
        log: logging.Logger,
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.console = console
        self.log = log
        self.children = [Child(service, base_env=base_env) for service in plan.services]
        self._stop = asyncio.Event()
        self._force = asyncio.Event()
        self._started_at = datetime.now(UTC).isoformat(timespec="seconds")

    async def run(self) -> int:
        """Start the stack, supervise it until a stop signal, stop it; return the exit code."""
        loop = asyncio.get_running_loop()
        for signum in _SIGNALS:
            loop.add_signal_handler(signum, self._on_signal, signum)
        self.log.info("supervisor started", extra={"event": "supervisor_started"})
        try:
            async with health_client(self.settings.health_timeout) as client:
                outcome = await self._start_all(client)
                if outcome is _Outcome.FAILED:
                    return 1
                if outcome is _Outcome.READY:
                    self._announce_ready()
                    await self._watch(client)
            return 0
        finally:
            await self._stop_all()
            remove_state(self.plan.state_file, owner_pid=os.getpid())
            for signum in _SIGNALS:
                loop.remove_signal_handler(signum)
            self.log.info("supervisor stopped", extra={"event": "supervisor_stopped"})

    # -- start-up ------------------------------------------------------------------------

    async def _start_all(self, client: httpx.AsyncClient) -> _Outcome:
        deadline = time.monotonic() + self.settings.startup_timeout
        for stage in self.plan.stages():
            names = {service.name for service in stage}
            children = [child for child in self.children if child.name in names]
            for child in children:
                self._start(child)
            self._write_state("starting")
            outcome = await self._wait_healthy(client, children, deadline)
            if outcome is _Outcome.FAILED:
                self.console.print(
                    "[red]mcsim could not start[/]: stopping the services that did start."
                )
            if outcome is not _Outcome.READY:
                return outcome
        self._write_state("ready")
        return _Outcome.READY

    def _start(self, child: Child) -> None:
        pid = child.start()
        self.console.print(f"  starting {child.plan.label} on {child.plan.url} (pid {pid})")
        self.log.info(
            "started %s",
            child.name,
            extra={
                "event": "child_started",
                "child": child.name,
                "pid": pid,
                "port": child.plan.port,
                "restart": child.restarts,
            },
        )

    async def _wait_healthy(
        self, client: httpx.AsyncClient, children: Sequence[Child], deadline: float
    ) -> _Outcome:
        pending = list(children)
        last: dict[str, Health] = {}
        with self.console.status("") as progress:
            while pending:
                if self._stop.is_set():
                    return _Outcome.STOPPED
                # Any child started so far, not only this stage's, must still run.
                for child in (c for c in self.children if c.process is not None):
                    code = child.poll()
                    if code is not None:
                        self._report_start_failure(
                            child, f"exited during start-up ({describe_exit(code)})"
                        )
                        return _Outcome.FAILED
                answers = await asyncio.gather(*(check_health(client, c.plan.url) for c in pending))
                for child, health in zip(list(pending), answers, strict=True):
                    last[child.name] = health
                    if health.up and health.is_service(child.plan.service, child.plan.instance_id):
                        child.healthy_since = time.monotonic()
                        pending.remove(child)
                        took = child.healthy_since - child.started_at
                        self.console.print(f"  [green]✓[/] {child.plan.label} ready ({took:.1f} s)")
                        self.log.info(
                            "%s ready",
                            child.name,
                            extra={"event": "child_ready", "child": child.name},
                        )
                if not pending:
                    break
                if time.monotonic() >= deadline:
                    for child in pending:
                        answer = last[child.name].error or "an unexpected answer"
                        self._report_start_failure(
                            child,
                            f"did not answer GET /health within "
                            f"{self.settings.startup_timeout:g} s (last try: {answer})",
                        )
                    return _Outcome.FAILED
                waiting = ", ".join(child.name for child in pending)
                left = max(0.0, deadline - time.monotonic())
                progress.update(f"waiting for {waiting} ({left:.0f} s left)")
                await self._sleep(self.settings.poll_interval)
        return _Outcome.READY

    def _report_start_failure(self, child: Child, why: str) -> None:
        title = f"{child.plan.label} ({child.name}) {why}"
        self.console.print(
            failure_panel(
                title, child.tail(self.settings.tail_lines), log_file=str(child.plan.log_file)
            )
        )
        self.log.error(
            "%s failed to start: %s",
            child.name,
            why,
            extra={"event": "start_failed", "child": child.name, "exit_code": child.exit_code},
        )

    def _announce_ready(self) -> None:
        pids = {child.name: child.pid for child in self.children}
        self.console.print(ready_banner(self.plan, pids))
        self.console.print("[bold green]mcsim is ready[/] — press Ctrl-C to stop")
        self.log.info("stack ready", extra={"event": "stack_ready"})

    # -- watching ------------------------------------------------------------------------

    async def _watch(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            for child in self.children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        self._restart(child)
                elif child.poll() is not None:
                    self._on_unexpected_exit(child, now)
            recovering = [c for c in self.children if c.running and c.healthy_since is None]
            if recovering:
                answers = await asyncio.gather(
                    *(check_health(client, c.plan.url) for c in recovering)
                )
                for child, health in zip(recovering, answers, strict=True):
                    if health.up and child.running:
                        child.healthy_since = time.monotonic()
                        self.console.print(
                            f"[green]✓[/] {child.plan.label} is healthy again (pid {child.pid})"
                        )
                        self.log.info(
                            "%s healthy again",
                            child.name,
                            extra={
                                "event": "child_recovered",
                                "child": child.name,
                                "pid": child.pid,
                            },
                        )
            await self._sleep(self.settings.poll_interval)

    def _on_unexpected_exit(self, child: Child, now: float) -> None:
        code = child.exit_code if child.exit_code is not None else 0
        delay = self._next_delay(child, now)
        child.restart_at = now + delay
        title = f"{child.plan.label} ({child.name}) exited unexpectedly ({describe_exit(code)})"
        self.console.print(
            failure_panel(
                title, child.tail(self.settings.tail_lines), log_file=str(child.plan.log_file)
            )
        )
        self.console.print(f"[yellow]restarting {child.plan.label} in {delay:g} s[/]")
        self.log.warning(
            "%s exited unexpectedly (%s); restarting in %g s",
            child.name,
            describe_exit(code),
            delay,
            extra={
                "event": "child_exited",
                "child": child.name,
                "exit_code": code,
                "delay_s": delay,
            },
        )
        self._write_state("ready")

    def _next_delay(self, child: Child, now: float) -> float:
        healthy_for = now - child.healthy_since if child.healthy_since is not None else 0.0
        child.last_delay = next_backoff(child.last_delay, healthy_for, self.settings)
        return child.last_delay

    def _restart(self, child: Child) -> None:
        child.restart_at = None
        child.restarts += 1
        self._start(child)
        self._write_state("ready")

    # -- stopping ------------------------------------------------------------------------

    def _on_signal(self, signum: signal.Signals) -> None:
        if self._stop.is_set():
            self._force.set()
            self.console.print(f"{signum.name} again: killing every service now")
            return
        self._stop.set()
        self.console.print(
            f"\n{signum.name} received: stopping every service (again to kill them at once)"
        )
        self.log.info("stop requested", extra={"event": "stop_requested", "signal": signum.name})

    async def _stop_all(self) -> None:
        running = [child for child in self.children if child.poll() is None and child.running]
        for child in running:
            child.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_timeout
        left = running
        while left and time.monotonic() < deadline and not self._force.is_set():
            await asyncio.sleep(0.05)
            left = [child for child in left if child.poll() is None]
        for child in left:
            self.console.print(f"[yellow]{child.plan.label} did not stop in time: killing it[/]")
            self.log.warning(
                "killing %s", child.name, extra={"event": "child_killed", "child": child.name}
            )
            child.signal_group(signal.SIGKILL)
        # SIGKILL cannot be ignored; the bound only guards against a process stuck in the kernel.
        killed_by = time.monotonic() + 5.0
        while any(child.poll() is None for child in left) and time.monotonic() < killed_by:  # noqa: ASYNC110 - a child has no event to await
            await asyncio.sleep(0.05)
        for child in running:
            self.log.info(
                "stopped %s",
                child.name,
                extra={"event": "child_stopped", "child": child.name, "exit_code": child.exit_code},
            )
        if running:
            self.console.print(f"stopped {len(running)} service(s)")

    async def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when a stop is requested."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # not wait_for: it can swallow a cancel on 3.11
                await self._stop.wait()

    def _write_state(self, state: str) -> None:
        services = [
            ServiceState(
                name=child.name,
                label=child.plan.label,
                service=child.plan.service,
                url=child.plan.url,
                port=child.plan.port,
                pid=child.pid if child.running else None,
                log_file=str(child.plan.log_file),
                instance_id=child.plan.instance_id,
            )
            for child in self.children
        ]
        write_state(
            self.plan.state_file,
            StackState(
                supervisor_pid=os.getpid(),
                state=state,
                data_dir=str(self.plan.data_dir),
                log_dir=str(self.plan.log_dir),
                started_at=self._started_at,
                services=services,
                links={
                    "load_balancer": self.plan.lb_url,
                    "soap_router": self.plan.soap_router_url,
                    "wsdl": self.plan.wsdl_url,
                    "control_console": self.plan.control_url + "/",
                    "control_docs": self.plan.control_url + "/docs",
                    "mailbox": self.plan.mid_url + "/",
                },
            ),
        )
