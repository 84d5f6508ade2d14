"""The control instance on the real stack: publish, republish, rollback, failures, unpublish.

Events go through the load balancer over REST; what each instance rendered is read from the
mid-sourcing server's captured messages (message id ``<instance>-<event pk>``).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.stack import StackRunner, running_stack, wait_until

pytestmark = pytest.mark.system

TOKEN = {"authorization": "Bearer mcsim-dev-token"}
EVENT_TYPE = "SYSTEM_TEST"


class Control:
    """A logged-in client of the control API."""

    def __init__(self, stack: StackRunner) -> None:
        self.stack = stack
        self.http = httpx.Client(base_url=stack.control_url, timeout=30)
        answer = self.http.post("/api/v1/auth/login", json={"login": "admin", "password": "admin"})
        assert answer.status_code == 200, answer.text
        self.http.headers["authorization"] = f"Bearer {answer.json()['access_token']}"

    def close(self) -> None:
        """Close the HTTP client."""
        self.http.close()

    def call(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        answer = self.http.request(method, path, **kwargs)
        assert answer.status_code == status, answer.text
        return answer.json() if answer.content else None


def _push(stack: StackRunner, tag: str, *, url: str | None = None) -> tuple[int, str, str]:
    """Send one event over REST; return (instance id, PKey, href)."""
    answer = httpx.post(
        f"{url or stack.lb_url}/acme/campaign/mcacme/EVT{EVENT_TYPE}",
        json={"email": f"{tag}@example.com", "ctx": {"name": tag}},
        headers=TOKEN,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    pkey = answer.json()["PKey"]
    return int(pkey) >> 56, pkey, answer.json()["href"]


def _push_to_every_instance(
    stack: StackRunner, tag: str, instances: int
) -> dict[int, tuple[str, str]]:
    """Push events through the load balancer until each instance holds one.

    Return, by instance, the PKey of its event and the name in the event's ctx.
    """
    found: dict[int, tuple[str, str]] = {}
    for n in range(instances * 40):  # a backend may be out for a health-check period
        name = f"{tag}-{n}"
        instance, pkey, _href = _push(stack, name)
        found.setdefault(instance, (pkey, name))
        if len(found) == instances:
            return found
        time.sleep(0.05)
    raise AssertionError(f"the load balancer spread {tag} events to {sorted(found)} only")


def _subject(stack: StackRunner, pkey: str) -> str:
    """Wait for the message mid-sourcing captured for an event and return its subject."""
    found: list[str] = []

    def captured() -> bool:
        page = httpx.get(
            f"{stack.mid_url}/api/v1/messages",
            params={"eventType": EVENT_TYPE, "limit": 500},
            timeout=10,
        ).json()
        found[:] = [m["subject"] for m in page["messages"] if str(m["eventId"]) == pkey]
        return bool(found)

    assert wait_until(captured, timeout=20, interval=0.1), f"no message for event {pkey}"
    return found[0]


def _status(stack: StackRunner, pkey: str, wanted: str) -> bool:
    def reached() -> bool:
        answer = httpx.get(
            f"{stack.lb_url}/acme/campaign/mcacme/EVT{EVENT_TYPE}/{pkey}", headers=TOKEN, timeout=10
        )
        return answer.status_code == 200 and answer.json()["status"] == wanted

    return wait_until(reached, timeout=20, interval=0.1)


def _check_rendering(stack: StackRunner, tag: str, instances: int, expected: str) -> None:
    for instance, (pkey, name) in _push_to_every_instance(stack, tag, instances).items():
        assert _subject(stack, pkey) == f"{expected} {name}", f"instance {instance}"


@pytest.mark.parametrize("instances", [2, 3])
def test_publishing_drives_what_every_instance_renders(tmp_path: Path, instances: int) -> None:
    env = {"MCSIM_CONTROL_INSTANCE_TIMEOUT_SECONDS": "3"}
    with running_stack(tmp_path / "data", "--no-demo", instances=instances, env=env) as stack:
        control = Control(stack)
        try:
            _scenario(stack, control, instances)
        finally:
            control.close()


def _scenario(stack: StackRunner, control: Control, instances: int) -> None:
    """Publish, republish, roll back, fail one instance and sync it, check roles, unpublish."""
    accounts = control.call("GET", "/api/v1/execution-instances")["items"]
    assert sorted(a["instance_id"] for a in accounts) == list(range(1, instances + 1))

    control.call(
        "POST", "/api/v1/event-types", 201, json={"name": EVENT_TYPE, "label": "System test"}
    )
    template = control.call(
        "POST",
        "/api/v1/templates",
        201,
        json={
            "event_type": EVENT_TYPE,
            "channel": "email",
            "content": {
                "from_address": "shop@acme.test",
                "subject": "v1 <%= rtEvent.ctx.name %>",
                "text": "Hello <%= rtEvent.ctx.name %>",
            },
        },
    )
    tid = template["id"]

    # Publish: every instance renders v1.
    first = control.call("POST", f"/api/v1/templates/{tid}/publish")
    assert first["complete"] is True
    assert len(first["instances"]) == instances
    _check_rendering(stack, "a", instances, "v1")

    # A proof to a seed address reaches the real mid-sourcing server, marked as a proof.
    seed = {"label": "QA", "address": "qa@example.com", "ctx": "<ctx><name>QA</name></ctx>"}
    control.call("POST", f"/api/v1/templates/{tid}/seeds", 201, json=seed)
    proof = control.call("POST", f"/api/v1/templates/{tid}/proof", json={})
    (sent,) = proof["messages"]

    def proof_captured() -> bool:
        page = httpx.get(
            f"{stack.mid_url}/api/v1/messages",
            params={"messageId": sent["message_id"], "proof": "true"},
            timeout=10,
        ).json()
        return [(m["subject"], m["instance"]) for m in page["messages"]] == [("v1 QA", 0)]

    assert wait_until(proof_captured, timeout=20, interval=0.1)

    # Republish a v2: new events use it everywhere.
    control.call(
        "PATCH",
        f"/api/v1/templates/{tid}",
        json={"content": {"subject": "v2 <%= rtEvent.ctx.name %>"}},
    )
    assert control.call("POST", f"/api/v1/templates/{tid}/publish")["version"] == 2
    _check_rendering(stack, "b", instances, "v2")

    # Roll back to v1 (published as v3).
    rolled = control.call("POST", f"/api/v1/templates/{tid}/rollback", json={"version": 1})
    assert rolled["version"] == 3
    _check_rendering(stack, "c", instances, "v1")

    # An instance down during a publish is reported; a later sync fixes it.
    victim = instances
    pid = stack.pids()[f"execution-{victim}"]
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not _answers(stack.exec_url(victim)), timeout=5, interval=0.02)
    control.call(
        "PATCH",
        f"/api/v1/templates/{tid}",
        json={"content": {"subject": "v4 <%= rtEvent.ctx.name %>"}},
    )
    partial = control.call("POST", f"/api/v1/templates/{tid}/publish")
    assert partial["complete"] is False
    failed = [o for o in partial["instances"] if not o["ok"]]
    assert [o["instance_id"] for o in failed] == [victim]
    assert failed[0]["error"]
    assert wait_until(lambda: _answers(stack.exec_url(victim)), timeout=30, interval=0.2)
    account = next(a for a in accounts if a["instance_id"] == victim)
    synced = control.call("POST", f"/api/v1/execution-instances/{account['id']}/sync")
    assert synced["ok"] is True
    assert synced["templates_changed"] == 1
    _instance, pkey, _href = _push(stack, "d", url=stack.exec_url(victim))
    assert _subject(stack, pkey) == "v4 d"

    # Roles hold on the real stack too.
    control.call(
        "POST",
        "/api/v1/operators",
        201,
        json={"login": "vic", "role": "viewer", "password": "viewer-pass"},
    )
    viewer = httpx.post(
        f"{stack.control_url}/api/v1/auth/login",
        json={"login": "vic", "password": "viewer-pass"},
        timeout=10,
    ).json()["access_token"]
    refused = httpx.post(
        f"{stack.control_url}/api/v1/templates/{tid}/unpublish",
        headers={"authorization": f"Bearer {viewer}"},
        timeout=10,
    )
    assert refused.status_code == 403

    # Unpublish: events fail routing on every instance.
    assert control.call("POST", f"/api/v1/templates/{tid}/unpublish")["complete"] is True
    pkeys = _push_to_every_instance(stack, "e", instances)
    for instance, (pkey, _name) in pkeys.items():
        assert _status(stack, pkey, "routingFailed"), f"instance {instance}"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
