"""An execution instance of several processes (issue 15): web processes sharing the port, a
processing process, caches that follow each other's changes, and a master that keeps them up.

``mcsim up --web-processes 2 --processing-processes 1`` runs the real processes; the kernel
spreads new connections over the two web processes (``SO_REUSEPORT``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.dev_credentials import CONTROL_PLANE
from tests.support.soap import event_xml, push_event_envelope
from tests.support.stack import StackRunner, free_ports, pid_alive, running_stack, wait_until

pytestmark = pytest.mark.system

SOAP = {"content-type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}
ROUTER = "/nl/jsp/soaprouter.jsp"


def _processes(url: str) -> dict[str, int]:
    health = httpx.get(f"{url}/health", timeout=5, trust_env=False).json()
    return {entry["role"]: entry["pid"] for entry in health["processes"] or ()}


def _template(event_type: str) -> dict[str, object]:
    return {
        "event_type": event_type,
        "channel": 0,
        "version": 1,
        "content": {
            "from_name": "Acme",
            "from_address": "noreply@acme.test",
            "subject": f"{event_type} for <%= rtEvent.ctx.firstName %>",
            "html": "<p>Hello <%= rtEvent.ctx.firstName %></p>",
            "text": "Hello <%= rtEvent.ctx.firstName %>",
        },
    }


def _captured(stack: StackRunner, recipient: str) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{stack.mid_url}/api/v1/messages",
        params={"recipient": recipient, "limit": 100},
        timeout=5,
        trust_env=False,
    )
    messages: list[dict[str, object]] = answer.json()["messages"]
    return messages


def _push(url: str, event_type: str, email: str) -> httpx.Response:
    # A client per call: a new connection, which the kernel may give to either web process.
    with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
        body = push_event_envelope(event_xml(event_type, email=email))
        return client.post(ROUTER, content=body, headers=SOAP)


def test_changes_are_seen_by_every_process_and_dead_processes_come_back(tmp_path: Path) -> None:
    args = ("--demo", "--web-processes", "2", "--processing-processes", "1")
    with running_stack(tmp_path / "data", *args, instances=1) as stack:
        url = stack.exec_url(1)
        processes = _processes(url)
        assert sorted(processes) == ["processing-0", "web-0", "web-1"]
        master = stack.pids()["execution-1"]
        assert master not in processes.values()
        for pid in processes.values():
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            assert int(stat[1]) == master  # children of the instance's master

        # A change answered by one process is known to the next call, whichever process takes
        # it: without the shared generation half of these would meet a web process that does
        # not know the event type yet ("unknown event type") for up to a second.
        run = time.time_ns()
        with httpx.Client(base_url=url, auth=CONTROL_PLANE, timeout=10, trust_env=False) as mc:
            for n in range(10):
                event_type = f"PROC_{run}_{n}"
                added = mc.put(f"/_mc/event-types/{event_type}", json={"label": event_type})
                assert added.status_code == 204, added.text
                published = mc.put(f"/_mc/templates/t{run}{n}", json=_template(event_type))
                assert published.status_code == 200, published.text
                answer = _push(url, event_type, f"p{n}-{run}@example.com")
                assert answer.status_code == 200, answer.text
                assert "plId" in answer.text
        # ... and the processing process routes each to the template published just before.
        for n in range(10):
            recipient = f"p{n}-{run}@example.com"
            assert wait_until(lambda r=recipient: len(_captured(stack, r)) == 1, timeout=20)
            assert _captured(stack, recipient)[0]["subject"] == f"PROC_{run}_{n} for Ann"

        # A processing process killed outright is started again and takes the next events.
        os.kill(processes["processing-0"], signal.SIGKILL)
        assert wait_until(
            lambda: _processes(url).get("processing-0") not in {None, processes["processing-0"]},
            timeout=10,
        )
        email = f"after-kill-{run}@example.com"
        assert _push(url, "PASSWORD_RESET", email).status_code == 200
        assert wait_until(lambda: len(_captured(stack, email)) == 1, timeout=20)

        # So is a web process; the port keeps answering meanwhile (the master holds the socket).
        os.kill(processes["web-1"], signal.SIGKILL)
        for n in range(5):
            assert _push(url, "PASSWORD_RESET", f"w{n}-{run}@example.com").status_code == 200
        assert wait_until(
            lambda: _processes(url).get("web-1") not in {None, processes["web-1"]}, timeout=10
        )
        children = list(_processes(url).values())
    # Stopping the stack stops the master, which stops its children.
    assert wait_until(lambda: not any(pid_alive(pid) for pid in children), timeout=10)


def test_a_master_that_cannot_reach_its_database_waits_says_so_and_stops(tmp_path: Path) -> None:
    # Issue 17: PostgreSQL unreachable at start-up is waited for (503 meanwhile), not exited on.
    port = free_ports(instances=1).exec_base
    env = {
        **os.environ,
        "MCSIM_EXEC_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "MCSIM_EXEC_WEB_PROCESSES": "2",
        "MCSIM_EXEC_PROCESSING_PROCESSES": "1",
        "MCSIM_EXEC_LOG_FORMAT": "text",
        "MCSIM_EXEC_DATA_DIR": str(tmp_path),
        "MCSIM_EXEC_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "execution_instance"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def waiting() -> bool:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            except httpx.HTTPError:
                return False
            return answer.status_code == 503 and answer.json()["status"] == "starting"

        assert wait_until(waiting, timeout=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 1
    assert "unreachable" in stderr and "retrying in" in stderr
    assert "cannot start: stopped while waiting for the database" in stderr
    assert "Traceback" not in stderr
