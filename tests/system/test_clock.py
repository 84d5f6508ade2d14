"""``mcsim clock`` against the real stack (issue 16 item 4): one command moves every service;
an event scheduled two hours ahead is sent once the clock gets there, by the instance's
processing process (another process than the web one that took the command); ``mcsim status``
shows the clock; a killed service comes back on the moved clock; ``mcsim clock reset`` goes back
to real time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.soap import event_xml, push_event_envelope
from tests.support.stack import StackRunner, running_stack, wait_until

pytestmark = pytest.mark.system

SOAP = {"content-type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}


def _mcsim(stack: StackRunner, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "services.cli.main", *args, "--data-dir", str(stack.data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _captured(stack: StackRunner, to: str) -> int:
    answer = httpx.get(
        f"{stack.mid_url}/api/v1/messages", params={"to": to}, timeout=10, trust_env=False
    )
    return int(answer.json()["total"])


def _offset(url: str) -> float | None:
    try:
        report = httpx.get(f"{url}/health", timeout=5, trust_env=False).json()
    except (httpx.HTTPError, ValueError):
        return None
    value = report.get("clock_offset_s")
    return None if value is None else float(value)


def test_mcsim_clock_moves_the_whole_stack_and_survives_a_restart(tmp_path: Path) -> None:
    args = ("--demo", "--web-processes", "2", "--processing-processes", "1")
    with running_stack(tmp_path / "data", *args, instances=1) as stack:
        later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.000Z")
        body = push_event_envelope(
            event_xml("PASSWORD_RESET", email="eve@example.com", scheduled=later)
        )
        pushed = httpx.post(
            f"{stack.exec_url(1)}/nl/jsp/soaprouter.jsp",
            content=body,
            headers=SOAP,
            timeout=10,
            trust_env=False,
        )
        assert pushed.status_code == 200, pushed.text

        moved = _mcsim(stack, "clock", "advance", "2h 1m")
        assert moved.returncode == 0, moved.stdout + moved.stderr
        assert "(+2h 1m)" in moved.stdout
        for name in ("control instance", "execution instance", "mid-sourcing"):
            assert f"✓ {name}" in moved.stdout, moved.stdout
        assert wait_until(lambda: _captured(stack, "eve@example.com") == 1, 20)

        status = _mcsim(stack, "status")
        assert "virtual clock: +2h 1m" in status.stdout, status.stdout

        # A service killed and restarted by the supervisor reads its clock back.
        old = stack.pids()["midsourcing"]
        os.kill(old, signal.SIGKILL)
        assert wait_until(
            lambda: (
                stack.pids().get("midsourcing") not in (None, old)
                and _offset(stack.mid_url) == 7260
            ),
            30,
        ), stack.output()
        shown = _mcsim(stack, "clock", "show")
        assert shown.returncode == 0, shown.stdout + shown.stderr

        back = _mcsim(stack, "clock", "reset")
        assert back.returncode == 0, back.stdout + back.stderr
        assert "(real time)" in back.stdout
        for url in (stack.control_url, stack.exec_url(1), stack.mid_url):
            assert _offset(url) == 0
        assert _offset(stack.lb_url) is None  # the balancer keeps no time-dependent state

        refused = _mcsim(stack, "clock", "set", "2001-01-01T00:00:00Z")
        assert refused.returncode == 1
        assert "before the real time" in refused.stderr
