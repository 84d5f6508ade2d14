"""``mcsim reset`` against the real stack (issue 16 item 5): every service forgets its events,
messages, delivery logs, quarantine, chaos and history; the configuration stays; every process
of an execution instance follows (pending counts, and the message epoch: without it the
processing process would hand over the new event 1 under a message id mid-sourcing remembers,
and it would never be delivered)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from services.dev_credentials import ADMIN
from tests.support.soap import event_xml, push_event_envelope, push_events_envelope
from tests.support.stack import StackRunner, running_stack, wait_until

pytestmark = pytest.mark.system

SOAP = {"content-type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}
ROUTER = "/nl/jsp/soaprouter.jsp"


def _push(url: str, email: str, **attributes: str) -> None:
    with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
        body = push_event_envelope(event_xml("PASSWORD_RESET", email=email, **attributes))
        answer = client.post(ROUTER, content=body, headers=SOAP)
        assert answer.status_code == 200, answer.text


def _get(url: str, **params: str) -> dict[str, object]:
    answer = httpx.get(url, params=params, timeout=10, trust_env=False)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def _pending(url: str) -> int:
    # A new connection each time: the kernel may give it to either web process.
    text = httpx.get(f"{url}/nl/jsp/mcPing.jsp", timeout=5, trust_env=False).text
    found = re.search(r"(\d+)/\d+ pending events", text)
    assert found is not None, text
    return int(found.group(1))


def _captured(stack: StackRunner) -> list[str]:
    page = _get(f"{stack.mid_url}/api/v1/messages", limit="100")
    return sorted(str(m["to"]) for m in page["messages"])  # type: ignore[attr-defined]


def _reset(stack: StackRunner, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "services.cli.main", "reset", "--data-dir"]
    return subprocess.run(
        [*command, str(stack.data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_mcsim_reset_clears_every_service_and_keeps_the_configuration(tmp_path: Path) -> None:
    args = ("--demo", "--web-processes", "2", "--processing-processes", "1")
    with running_stack(tmp_path / "data", *args, instances=1) as stack:
        url = stack.exec_url(1)
        for name in ("ann", "bob+hard", "cat"):
            _push(url, f"{name}@example.com")
        later = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S.000Z")
        _push(url, "dan@example.com", scheduled=later)  # stays pending
        assert wait_until(lambda: len(_captured(stack)) == 3, 20)
        assert wait_until(lambda: _pending(url) == 1, 5)
        chaos = httpx.put(
            f"{stack.mid_url}/api/v1/chaos/sms", json={"probability": 1}, trust_env=False
        )
        assert chaos.status_code == 200
        token = httpx.post(
            f"{stack.control_url}/api/v1/auth/login",
            json={"login": ADMIN[0], "password": ADMIN[1]},
            trust_env=False,
        ).json()["access_token"]
        auth = {"authorization": f"Bearer {token}"}
        archived = httpx.post(
            f"{stack.control_url}/api/v1/events/archive", headers=auth, timeout=30, trust_env=False
        )
        assert archived.status_code == 200, archived.text

        done = _reset(stack)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "execution instance exec1: 4 events" in done.stdout
        assert "mid-sourcing: 3 messages, 3 delivery logs, 1 addresses, 1 chaos channels" in (
            done.stdout
        )
        assert "control instance: 4 archived events" in done.stdout
        assert "reset done" in done.stdout

        assert _captured(stack) == []
        assert _get(f"{stack.mid_url}/api/v1/quarantine")["total"] == 0
        assert _get(f"{stack.mid_url}/api/v1/chaos")["channels"] == {}
        history = httpx.get(
            f"{stack.control_url}/api/v1/events", headers=auth, timeout=10, trust_env=False
        ).json()
        assert history["total"] == 0
        assert all(_pending(url) == 0 for _ in range(8))  # whichever web process answers

        # The configuration stays, the quarantine is gone, and the new event 1 is delivered.
        _push(url, "bob+hard@example.com")
        _push(url, "eve@example.com")
        assert wait_until(lambda: len(_captured(stack)) == 2, 20), _captured(stack)
        statuses = {
            str(m["to"]): m["status"]
            for m in _get(f"{stack.mid_url}/api/v1/messages")["messages"]  # type: ignore[attr-defined]
        }
        assert statuses == {"bob+hard@example.com": "failed", "eve@example.com": "sent"}


def test_mcsim_reset_says_why_it_cannot(tmp_path: Path) -> None:
    with running_stack(tmp_path / "data", "--no-demo", instances=1) as stack:
        wrong = _reset(stack, "--password", "not-the-password")
        assert wrong.returncode == 1
        assert "cannot log in" in wrong.stderr
    nothing = _reset(stack)  # the stack is gone
    assert nothing.returncode == 1
    assert "cannot reach the control instance" in nothing.stderr


def _count(stack: StackRunner, status: str) -> int:
    counts = _get(f"{stack.mid_url}/api/v1/messages/counts")["byStatus"]
    return int(counts.get(status, 0))  # type: ignore[attr-defined]


def _processes(url: str) -> dict[str, int]:
    health = httpx.get(f"{url}/health", timeout=5, trust_env=False).json()
    return {entry["role"]: entry["pid"] for entry in health["processes"] or ()}


def test_a_reset_under_load_crashes_nothing_and_leaves_no_trace(tmp_path: Path) -> None:
    with running_stack(tmp_path / "data", "--demo", instances=1) as stack:
        url = stack.exec_url(1)
        processes = _processes(url)
        assert "processing-0" in processes
        # Each try takes 1.5 s: the reset finds messages being sent and events in the queue.
        slow = {"probability": 0, "latencyMs": 1500}
        chaos = httpx.put(f"{stack.mid_url}/api/v1/chaos/email", json=slow, trust_env=False)
        assert chaos.status_code == 200
        headers = {**SOAP, "SOAPAction": "nms:rtEvent#PushEvents"}
        with httpx.Client(base_url=url, timeout=30, trust_env=False) as client:
            for batch in range(4):
                events = [
                    event_xml("PASSWORD_RESET", email=f"load{batch}-{n}@example.com")
                    for n in range(100)
                ]
                body = push_events_envelope(events)
                assert client.post(ROUTER, content=body, headers=headers).status_code == 200
        assert wait_until(lambda: _count(stack, "sending") > 0, 10)
        done = _reset(stack)  # while the workers claim, render, hand over and send
        assert done.returncode == 0, done.stdout + done.stderr
        removed = re.search(r"mid-sourcing: (\d+) messages", done.stdout)
        assert removed is not None and int(removed.group(1)) > 0, done.stdout

        # Whatever was in flight ends without a trace: no message of before the reset arrives.
        late = _get(f"{stack.mid_url}/api/v1/messages", q="load", wait="3")
        assert late["total"] == 0, late
        assert _get(f"{stack.mid_url}/api/v1/messages")["total"] == 0
        assert _processes(url) == processes  # no process died and came back
        assert _pending(url) == 0

        _push(url, "after@example.com")
        messages = f"{stack.mid_url}/api/v1/messages"
        found = _get(messages, recipient="after", status="sent", wait="20")
        assert found["total"] == 1
        assert _get(f"{stack.mid_url}/api/v1/messages")["total"] == 1
        for log in (stack.data_dir / "logs").glob("*.log"):
            problems = [
                line
                for line in log.read_text(encoding="utf-8").splitlines()
                if '"level": "error"' in line or "Traceback" in line
            ]
            assert problems == [], (log.name, problems[:3])
