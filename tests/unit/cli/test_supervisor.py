"""The supervisor with stand-in services: real processes that answer /health, or never do."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from services.cli.plan import StackOptions, StackPlan, plan_stack
from services.cli.supervisor import Supervisor, SupervisorSettings
from tests.support.stack import free_ports, pid_alive

#: A stand-in service: answers GET /health like an mcsim service (or never listens).
STAND_IN = """
import json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
port, service, instance = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if service == "silent":
    time.sleep(120)
class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ok", "service": service,
                           "instance_id": int(instance) if instance != "-" else None}).encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        print("request", *args, flush=True)
print("listening on", port, flush=True)
HTTPServer(("127.0.0.1", port), Health).serve_forever()
"""


def stand_in_plan(tmp_path: Path, *, silent: str | None = None) -> StackPlan:
    ports = free_ports(instances=1)
    plan = plan_stack(
        StackOptions(
            data_dir=tmp_path,
            lb_port=ports.lb,
            control_port=ports.control,
            mid_port=ports.mid,
            exec_base_port=ports.exec_base,
            instances=1,
        )
    )
    services = []
    for service in plan.services:
        kind = "silent" if service.name == silent else service.service
        instance = "-" if service.instance_id is None else str(service.instance_id)
        argv = (sys.executable, "-c", STAND_IN, str(service.port), kind, instance)
        services.append(replace(service, argv=argv))
    return replace(plan, services=tuple(services))


def run(plan: StackPlan, settings: SupervisorSettings) -> tuple[int, str, Supervisor]:
    out = io.StringIO()
    console = Console(file=out, width=200)
    supervisor = Supervisor(
        plan, settings, console=console, base_env={}, log=logging.getLogger("test.supervisor")
    )
    code = asyncio.run(supervisor.run())
    return code, out.getvalue(), supervisor


def test_a_service_that_never_answers_fails_the_start_and_everything_stops(
    tmp_path: Path,
) -> None:
    plan = stand_in_plan(tmp_path, silent="midsourcing")

    code, output, supervisor = run(plan, SupervisorSettings(startup_timeout=4, stop_timeout=3))

    assert code == 1
    assert "mid-sourcing server (midsourcing) did not answer GET /health within 4 s" in output
    assert "not reachable" in output
    assert "mcsim could not start" in output
    # The balancer and the control instance wait for the first stage: they never started.
    assert [c.name for c in supervisor.children if c.pid is None] == ["load_balancer", "control"]
    for child in supervisor.children:
        if child.pid is not None:
            assert not pid_alive(child.pid)
    assert not plan.state_file.exists()
