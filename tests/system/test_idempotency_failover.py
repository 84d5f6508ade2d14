"""A retried keyed event never becomes a second event while its instance fails (issue 17, item 0).

The reproduction of the issue: a REST event with an ``Idempotency-Key`` is retried while the
instance that took it is down, then after it came back. Before, the balancer sent the retry to
"the next healthy" instance, which had never seen the key and created a second event (two
e-mails). Now the retry waits for the key's own instance (503, ``Retry-After``) and, once that
instance is back, gets the first event again.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from services.dev_credentials import TECHNICAL_TOKEN
from tests.support.stack import running_stack, wait_until

pytestmark = pytest.mark.system

EVENTS = "/acme/campaign/mcacme/EVTPASSWORD_RESET"
BEARER = {"authorization": f"Bearer {TECHNICAL_TOKEN}"}


def _backend_state(lb_url: str, url: str) -> str:
    status = httpx.get(f"{lb_url}/_lb/status", timeout=5, trust_env=False).json()
    return next(b["state"] for b in status["backends"] if b["url"] == url)


def test_a_keyed_retry_waits_for_its_instance_and_gets_the_first_event(tmp_path: Path) -> None:
    with running_stack(tmp_path / "data", "--demo", "--stop-timeout", "5") as stack:
        email = f"once-{time.time_ns()}@example.com"
        body = {"email": email, "ctx": {"firstName": "Once", "resetUrl": "https://x.test/r"}}
        headers = {**BEARER, "Idempotency-Key": f"order-{time.time_ns()}"}
        with httpx.Client(base_url=stack.lb_url, timeout=10, trust_env=False) as client:
            first = client.post(EVENTS, json=body, headers=headers)
            assert first.status_code == 201, first.text
            pkey = first.json()["PKey"]
            owner = int(pkey) >> 56
            owner_url = stack.exec_url(owner)
            paused = stack.pids()[f"execution-{owner}"]

            # The owner stops answering: health checks fail. The instance is a process group (its
            # master, web and processing processes): pause all of it.
            os.killpg(paused, signal.SIGSTOP)
            try:
                assert wait_until(
                    lambda: _backend_state(stack.lb_url, owner_url) == "down", timeout=20
                )
                waiting = client.post(EVENTS, json=body, headers=headers)
                assert waiting.status_code == 503, waiting.text
                assert waiting.headers["retry-after"] == "2"
                elsewhere = {**body, "email": "someone-else@example.com"}
                other = client.post(
                    EVENTS, json=elsewhere, headers={**BEARER, "Idempotency-Key": "x"}
                )
                assert other.status_code in {201, 503}  # other keys are not held up by this one
            finally:
                os.killpg(paused, signal.SIGCONT)

            assert wait_until(lambda: _backend_state(stack.lb_url, owner_url) == "up", timeout=20)
            again = client.post(EVENTS, json=body, headers=headers)
            assert again.status_code in {200, 201}, again.text
            assert again.json()["PKey"] == pkey
            assert again.headers.get("idempotent-replayed") == "true"

        def delivered() -> list[dict[str, object]]:
            answer = httpx.get(
                f"{stack.mid_url}/api/v1/messages",
                params={"recipient": email},
                timeout=5,
                trust_env=False,
            )
            messages: list[dict[str, object]] = answer.json()["messages"]
            return messages

        assert wait_until(lambda: len(delivered()) >= 1, timeout=20)
        time.sleep(1.0)  # a second event, if one had been made, would be delivered by now
        assert len(delivered()) == 1
