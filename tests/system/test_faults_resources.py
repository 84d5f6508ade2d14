"""Degraded resources (issue 17, item 3): a full disk under the embedded SQLite default.

The whole data directory (databases and logs) lives on a small tmpfs mounted for the test
(root only; skipped elsewhere), which is then filled to the last byte. Intake must refuse new
events with a clear answer (REST 503 in the JSON error shape, a SOAP Fault saying nothing was
stored), keep running, lose none of the events it acknowledged before, and take events again
once space returns.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.dev_credentials import TECHNICAL_TOKEN
from tests.support.soap import event_xml, fault_of, push_event_envelope
from tests.support.stack import StackRunner, running_stack, wait_until

pytestmark = pytest.mark.system

EVENTS = "/acme/campaign/mcacme/EVTPASSWORD_RESET"
BEARER = {"authorization": f"Bearer {TECHNICAL_TOKEN}"}
SOAP = {"content-type": "text/xml", "soapaction": "nms:rtEvent#PushEvent"}


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``path`` (skip the test where that is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left; return it."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        for block in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    out.write(b"\0" * block)
    return filler


class Client:
    """REST and SOAP pushes through the load balancer, each to an address of its own."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.number = 0

    def rest(self) -> tuple[str, httpx.Response]:
        self.number += 1
        email = f"full-rest-{self.number}-{time.time_ns()}@example.com"
        body = {"email": email, "ctx": {"firstName": "Full", "resetUrl": "https://x.test/r"}}
        return email, self.http.post(EVENTS, json=body, headers=BEARER)

    def soap(self) -> tuple[str, httpx.Response]:
        self.number += 1
        email = f"full-soap-{self.number}-{time.time_ns()}@example.com"
        envelope = push_event_envelope(event_xml(email=email, ctx="<firstName>Full</firstName>"))
        return email, self.http.post("/nl/jsp/soaprouter.jsp", content=envelope, headers=SOAP)


def captured(stack: StackRunner, email: str) -> int:
    answer = httpx.get(f"{stack.mid_url}/api/v1/messages", params={"recipient": email}, timeout=10)
    return len(answer.json()["messages"])


def test_a_full_disk_refuses_new_events_clearly_and_loses_none(tmp_path: Path) -> None:
    with (
        small_disk(tmp_path / "disk", "48m") as disk,
        running_stack(disk / "data", "--demo", instances=1) as stack,
        httpx.Client(base_url=stack.lb_url, timeout=20, trust_env=False) as http,
    ):
        client = Client(http)
        acked: list[str] = []
        for _ in range(5):
            for email, answer in (client.rest(), client.soap()):
                assert answer.status_code in {200, 201}, answer.text
                acked.append(email)
        pids = stack.pids()
        filler = fill(disk)

        # Some writes may still fit in pages SQLite had already; the disk is full soon after.
        refused_rest: httpx.Response | None = None
        refused_soap: httpx.Response | None = None
        for _ in range(50):
            email, answer = client.rest()
            if answer.status_code == 201:
                acked.append(email)
            else:
                refused_rest = answer
            email, answer = client.soap()
            if answer.status_code == 200:
                acked.append(email)
            else:
                refused_soap = answer
            if refused_rest is not None and refused_soap is not None:
                break
        assert refused_rest is not None and refused_soap is not None

        assert refused_rest.status_code == 503, refused_rest.text
        error = refused_rest.json()
        assert error["error"] == "database_unavailable"
        assert "not stored" in error["message"]
        assert "full" in error["detail"]
        assert refused_soap.status_code == 500, refused_soap.text
        fault = fault_of(refused_soap.content)
        assert fault["faultcode"] == "SOAP-ENV:Server"
        assert "not stored" in fault["faultstring"]
        assert "full" in fault["detail"]
        assert stack.pids() == pids  # nothing crashed or restarted

        os.remove(filler)

        def takes_events() -> bool:
            email, answer = client.rest()
            if answer.status_code == 201:
                acked.append(email)
                return True
            return False

        assert wait_until(takes_events, timeout=30, interval=1.0)
        email, answer = client.soap()
        assert answer.status_code == 200, answer.text
        acked.append(email)
        # Nothing acknowledged is lost, nothing is sent twice.
        assert wait_until(lambda: all(captured(stack, e) >= 1 for e in acked), timeout=60)
        time.sleep(1.0)
        assert [e for e in acked if captured(stack, e) != 1] == []
