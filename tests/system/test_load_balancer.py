"""``python -m load_balancer`` as a real process: token locality, workers, shutdown.

The balancer runs as the stack runs it (a master, two workers on SO_REUSEPORT sockets and a
health-check process) in front of real execution instances or echo backends.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.dev_credentials import LB_ADMIN_TOKEN
from tests.integration.load_balancer.backends import EchoBackend, serve_asgi
from tests.support.live import free_port
from tests.support.soap import (
    event_xml,
    fault_of,
    logon_envelope,
    outputs_of,
    push_event_envelope,
)
from tests.support.stack import wait_until

pytestmark = pytest.mark.system

SOAP = {"Content-Type": "text/xml; charset=utf-8"}
EVENTS = "/acme/campaign/mcacme/EVTPASSWORD_RESET"


@contextmanager
def service(
    module: str, env: Mapping[str, str], health_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m module`` until the block ends; wait for its health first."""
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )

        def healthy() -> bool:
            if child.poll() is not None:
                log.seek(0)
                raise AssertionError(f"{module} exited: {log.read().decode()[-3000:]}")
            try:
                return httpx.get(health_url, timeout=1, trust_env=False).status_code == 200
            except httpx.TransportError:
                return False

        try:
            assert wait_until(healthy, timeout=30), f"{module} did not become healthy"
            yield child
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()


def balancer_env(port: int, backends: list[str], **extra: str) -> dict[str, str]:
    return {
        "MCSIM_LB_PORT": str(port),
        "MCSIM_LB_BACKENDS": json.dumps(backends),
        "MCSIM_LB_WORKERS": "2",
        "MCSIM_LB_HEALTH_INTERVAL": "0.2",
        "MCSIM_LB_LOG_LEVEL": "WARNING",
        **extra,
    }


def status(url: str) -> dict[str, Any]:
    # A new connection each time: SO_REUSEPORT may hand it to either worker.
    body: dict[str, Any] = httpx.get(f"{url}/_lb/status", timeout=5, trust_env=False).json()
    return body


@pytest.fixture(scope="module")
def cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two execution instances behind a two-worker balancer; yield the balancer's URL."""
    data = tmp_path_factory.mktemp("cell")
    lb_port = free_port()
    lb_url = f"http://127.0.0.1:{lb_port}"
    exec_urls = []
    with ExitStack() as stack:
        for instance_id in (1, 2):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            exec_urls.append(url)
            env = {
                "MCSIM_EXEC_PORT": str(port),
                "MCSIM_EXEC_INSTANCE_ID": str(instance_id),
                "MCSIM_EXEC_DATA_DIR": str(data),
                "MCSIM_EXEC_PUBLIC_URL": lb_url,
                "MCSIM_EXEC_EVENT_TYPES": '["PASSWORD_RESET"]',
                "MCSIM_EXEC_LOG_LEVEL": "WARNING",
            }
            stack.enter_context(service("execution_instance", env, f"{url}/health"))
        stack.enter_context(
            service("load_balancer", balancer_env(lb_port, exec_urls), f"{lb_url}/health")
        )
        assert wait_until(
            lambda: {b["instance_id"] for b in status(lb_url)["backends"]} == {1, 2}, timeout=10
        )
        yield lb_url


def test_a_logon_token_works_only_on_its_instance_and_login_password_always_works(
    cell: str,
) -> None:
    with httpx.Client(base_url=cell, timeout=10, trust_env=False) as client:
        logon = client.post(
            "/nl/jsp/soaprouter.jsp",
            content=logon_envelope("mc", "mc"),
            headers={**SOAP, "SOAPAction": "xtk:session#Logon"},
        )
        assert logon.status_code == 200, logon.text
        token = outputs_of(logon.content, "pstrSessionToken")[0]

        accepted, refused = [], []
        for _ in range(20):
            answer = client.post(
                "/nl/jsp/soaprouter.jsp",
                content=push_event_envelope(event_xml(), token=token),
                headers={**SOAP, "SOAPAction": "nms:rtEvent#PushEvent"},
            )
            if answer.status_code == 200:
                accepted.append(int(outputs_of(answer.content, "plId")[0]) >> 56)
            else:
                refused.append(fault_of(answer.content))
        # About half the calls land on the other instance, which does not know the token.
        assert 5 <= len(refused) <= 15, (len(accepted), len(refused))
        assert len(set(accepted)) == 1
        for fault in refused:
            assert fault["faultstring"].startswith("XSV-350008")
            assert "load balancer" in fault["detail"]
            assert "login/password" in fault["detail"]

        instances = []
        for _ in range(10):
            answer = client.post(
                "/nl/jsp/soaprouter.jsp",
                content=push_event_envelope(event_xml(), token="mc/mc"),
                headers={**SOAP, "SOAPAction": "nms:rtEvent#PushEvent"},
            )
            assert answer.status_code == 200, answer.text
            instances.append(int(outputs_of(answer.content, "plId")[0]) >> 56)
        assert set(instances) == {1, 2}


def test_rest_status_reads_and_idempotent_retries_reach_the_right_instance(cell: str) -> None:
    bearer = {"Authorization": "Bearer mcsim-dev-token"}
    body = {"email": "ann@example.com", "ctx": {"firstName": "Ann"}}
    with httpx.Client(base_url=cell, timeout=10, trust_env=False) as client:
        created = [client.post(EVENTS, json=body, headers=bearer).json() for _ in range(4)]
        assert {int(event["PKey"]) >> 56 for event in created} == {1, 2}
        for event in created:
            for _ in range(3):
                read = client.get(f"/acme/campaign/{event['href']}", headers=bearer)
                assert read.status_code == 200, read.text
                assert read.json()["PKey"] == event["PKey"]

        key = {"Idempotency-Key": f"order-{time.time_ns()}", **bearer}
        first = client.post(EVENTS, json=body, headers=key)
        retries = [client.post(EVENTS, json=body, headers=key) for _ in range(4)]
        assert first.status_code == 201
        assert {r.json()["PKey"] for r in retries} == {first.json()["PKey"]}


def test_workers_share_one_state_survive_a_crash_and_drain_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    one, two, three = EchoBackend("one", 1), EchoBackend("two", 2), EchoBackend("three", 3)
    with (
        serve_asgi(one) as url_one,
        serve_asgi(two) as url_two,
        serve_asgi(three) as url_three,
        service("load_balancer", balancer_env(port, [url_one, url_two]), f"{url}/health") as lb,
    ):
        for _ in range(60):
            answer = httpx.get(f"{url}/x", headers={"Connection": "close"}, trust_env=False)
            assert answer.status_code == 200
        report = status(url)
        assert report["requests"] == 60
        assert sum(b["requests"] for b in report["backends"]) == 60
        workers = {w["worker"]: w for w in report["workers"]}
        assert set(workers) == {0, 1}
        # The kernel spread the connections over both workers.
        assert all(w["requests"] > 0 for w in workers.values()), workers

        # A backend added through one worker is seen by every worker at once.
        added = httpx.post(
            f"{url}/_lb/backends",
            json={"url": url_three},
            headers={"Authorization": f"Bearer {LB_ADMIN_TOKEN}"},
            trust_env=False,
        )
        assert added.status_code == 201
        for _ in range(10):
            assert url_three in {b["url"] for b in status(url)["backends"]}

        # ... and gets requests right away.
        def three_gets_requests() -> bool:
            before = three.count()
            for _ in range(6):
                httpx.get(f"{url}/x", headers={"Connection": "close"}, trust_env=False)
            return three.count() > before

        assert wait_until(three_gets_requests, timeout=10)

        # A worker that dies is started again, with a new pid.
        os.kill(workers[0]["pid"], signal.SIGKILL)
        assert wait_until(
            lambda: status(url)["workers"][0]["pid"] not in (0, workers[0]["pid"]), timeout=10
        )
        assert all(httpx.get(f"{url}/x", trust_env=False).status_code == 200 for _ in range(10))

        # SIGTERM: the request in flight is answered, then every process exits.
        outcome: dict[str, Any] = {}

        def slow_request() -> None:
            try:
                answer = httpx.get(f"{url}/slow", params={"s": "1.5"}, timeout=10, trust_env=False)
                outcome["status"] = answer.status_code
            except httpx.HTTPError as exc:
                outcome["error"] = repr(exc)

        thread = threading.Thread(target=slow_request)
        thread.start()
        assert wait_until(lambda: status(url)["in_flight"] == 1, timeout=5)
        lb.send_signal(signal.SIGTERM)
        thread.join(10)
        assert outcome == {"status": 200}
        assert lb.wait(15) == 0
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health", timeout=2, trust_env=False)
