"""The cell on three hosts (issue 17 item 1): the control instance, an execution instance and
mid-sourcing each in a network namespace of its own, joined by a bridge, as separate machines
with their own addresses — the deployment of DESIGN's seed, which the other tests never make.

The execution instance reaches mid-sourcing through a fault proxy on the bridge's host (this
machine's kernel has no ``netem``, so delay and resets come from the proxy). Events go through
normally; then over a slow link (150 ms each way); then while every connection to mid-sourcing
is reset; then while mid-sourcing's network interface is down (a real partition: its host is
gone from the network) and after it comes back. Every acknowledged event is captured exactly
once.

Needs root and ``ip`` (iproute2): where the machine does not allow network namespaces the test
says so and is skipped.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.testing.faultproxy import Fault, ProxyThread
from tests.support.soap import event_xml, outputs_of, push_event_envelope
from tests.support.stack import wait_until

pytestmark = pytest.mark.system

SOAP = {"content-type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}


def _can_make_namespaces() -> str | None:
    """Return why network namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not shutil.which("ip"):
        return "ip (iproute2) is not installed"
    name = f"mcsim-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, check=False)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.decode(errors='replace').strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return None


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr.strip()}"


@dataclass(frozen=True)
class Host:
    """A network namespace with one interface on the cell's bridge."""

    namespace: str
    address: str

    def run(self, *command: str) -> None:
        _run("ip", "netns", "exec", self.namespace, *command)


@dataclass(frozen=True)
class Network:
    subnet: str  # "10.77.N"
    bridge: str
    control: Host
    execution: Host
    mid: Host


@contextmanager
def network() -> Iterator[Network]:
    """Make a bridge (this host is .1 on it) and three namespaces (.2 control, .3 execution,
    .4 mid-sourcing); remove them all afterwards."""
    tag = random.SystemRandom().randrange(10, 250)
    subnet = f"10.{random.SystemRandom().randrange(64, 128)}.{tag}"
    bridge = f"mcbr{os.getpid() % 10000}{tag}"[:15]
    hosts = {
        role: Host(f"mcsim-{role}-{os.getpid()}-{tag}", f"{subnet}.{n}")
        for n, role in ((2, "control"), (3, "exec"), (4, "mid"))
    }
    made: list[str] = []
    try:
        _run("ip", "link", "add", bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{subnet}.1/24", "dev", bridge)
        _run("ip", "link", "set", bridge, "up")
        for index, (role, host) in enumerate(hosts.items()):
            _run("ip", "netns", "add", host.namespace)
            made.append(host.namespace)
            outer, inner = f"{bridge[:9]}o{index}", f"{bridge[:9]}i{index}"
            _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
            _run("ip", "link", "set", outer, "master", bridge, "up")
            _run("ip", "link", "set", inner, "netns", host.namespace)
            host.run("ip", "link", "set", "lo", "up")
            host.run("ip", "link", "set", inner, "name", "eth0")
            host.run("ip", "addr", "add", f"{host.address}/24", "dev", "eth0")
            host.run("ip", "link", "set", "eth0", "up")
            assert role
        yield Network(subnet, bridge, hosts["control"], hosts["exec"], hosts["mid"])
    finally:
        for namespace in made:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True, check=False)


def _zones(subnet: str) -> str:
    return json.dumps(
        [
            {"name": "loopback", "networks": ["127.0.0.0/8"], "allow_user_password": True},
            {"name": "cell", "networks": [f"{subnet}.0/24"], "allow_user_password": True},
        ]
    )


@contextmanager
def service(host: Host, module: str, data: Path, env: dict[str, str]) -> Iterator[None]:
    """Run ``python -m module`` inside ``host``'s namespace; stop it (and its children)."""
    log = (data / f"{module}.log").open("wb")
    process = subprocess.Popen(
        ["ip", "netns", "exec", host.namespace, sys.executable, "-m", module],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _push(url: str, email: str) -> int | None:
    """Push one event (SOAP, mc/mc); return its plId, or None when it was not acknowledged."""
    body = push_event_envelope(event_xml("PASSWORD_RESET", email=email), token="mc/mc")
    try:
        answer = httpx.post(
            f"{url}/nl/jsp/soaprouter.jsp", content=body, headers=SOAP, timeout=15, trust_env=False
        )
    except httpx.HTTPError:
        return None
    if answer.status_code != 200:
        return None
    return int(outputs_of(answer.content, "plId")[0])


def _captured(mid_url: str) -> dict[str, int]:
    """Return how many messages mid-sourcing captured for each recipient."""
    counts: dict[str, int] = {}
    offset = 0
    while True:
        page = httpx.get(
            f"{mid_url}/api/v1/messages",
            params={"limit": "200", "offset": str(offset)},
            timeout=10,
            trust_env=False,
        ).json()
        for message in page["messages"]:
            counts[message["to"]] = counts.get(message["to"], 0) + 1
        offset += len(page["messages"])
        if not page["messages"] or offset >= page["total"]:
            return counts


def test_the_cell_on_three_hosts_delivers_each_event_once_through_delay_loss_and_a_cut(
    tmp_path: Path,
) -> None:
    reason = _can_make_namespaces()
    if reason is not None:
        pytest.skip(reason)
    with ExitStack() as stack:
        net = stack.enter_context(network())
        zones = _zones(net.subnet)
        mid_url = f"http://{net.mid.address}:8090"
        exec_url = f"http://{net.execution.address}:8081"
        control_url = f"http://{net.control.address}:8070"
        for name in ("mid", "exec", "control"):
            (tmp_path / name).mkdir()
        # The instance's link to mid-sourcing goes through a proxy on this host (the bridge).
        proxies = stack.enter_context(ProxyThread())
        link = proxies.add(net.mid.address, 8090, host=f"{net.subnet}.1")
        stack.enter_context(
            service(
                net.mid,
                "midsourcing",
                tmp_path / "mid",
                {
                    "MCSIM_MID_HOST": net.mid.address,
                    "MCSIM_MID_PORT": "8090",
                    "MCSIM_MID_DATA_DIR": str(tmp_path / "mid"),
                    "MCSIM_MID_SECURITY_ZONES": zones,
                    "MCSIM_MID_ALLOWED_HOSTS": json.dumps([f"{net.subnet}.1"]),
                },
            )
        )
        stack.enter_context(
            service(
                net.execution,
                "execution_instance",
                tmp_path / "exec",
                {
                    "MCSIM_EXEC_HOST": net.execution.address,
                    "MCSIM_EXEC_PORT": "8081",
                    "MCSIM_EXEC_DATA_DIR": str(tmp_path / "exec"),
                    "MCSIM_EXEC_INSTANCE_ID": "1",
                    "MCSIM_EXEC_MIDSOURCING_URL": link.url,
                    "MCSIM_EXEC_SECURITY_ZONES": zones,
                    "MCSIM_EXEC_HANDOFF_RETRY_MAX_SECONDS": "2",
                },
            )
        )
        assert wait_until(lambda: _healthy(mid_url) and _healthy(exec_url), 60), (
            tmp_path / "mid" / "midsourcing.log"
        ).read_text(errors="replace")[-2000:] + (
            tmp_path / "exec" / "execution_instance.log"
        ).read_text(errors="replace")[-2000:]
        stack.enter_context(
            service(
                net.control,
                "control_instance",
                tmp_path / "control",
                {
                    "MCSIM_CONTROL_HOST": net.control.address,
                    "MCSIM_CONTROL_PORT": "8070",
                    "MCSIM_CONTROL_DATA_DIR": str(tmp_path / "control"),
                    "MCSIM_CONTROL_DEMO": "true",
                    "MCSIM_CONTROL_EXECUTION_URLS": json.dumps([exec_url]),
                    "MCSIM_CONTROL_MIDSOURCING_URL": mid_url,
                },
            )
        )
        # The control instance publishes the demo templates to the instance on its host.
        assert wait_until(lambda: _healthy(control_url), 90), (
            tmp_path / "control" / "control_instance.log"
        ).read_text(errors="replace")[-3000:]

        acknowledged: dict[str, int] = {}

        def push(batch: str, count: int) -> None:
            for number in range(count):
                email = f"{batch}-{number}@example.com"
                for _attempt in range(5):  # retried only while not acknowledged
                    pl_id = _push(exec_url, email)
                    if pl_id is not None:
                        acknowledged[email] = pl_id
                        break

        def all_captured_once() -> bool:
            captured = _captured(mid_url)
            return all(captured.get(email) == 1 for email in acknowledged)

        push("plain", 20)
        assert wait_until(all_captured_once, 60)

        link.set(Fault.LATENCY, latency_ms=150)
        push("slow", 15)
        assert wait_until(all_captured_once, 90)

        link.set(Fault.RESET)
        push("reset", 10)
        assert wait_until(lambda: link.stats.reset > 0, 20)  # hand-overs were cut mid-way
        link.set(Fault.PASS)
        assert wait_until(all_captured_once, 90)

        net.mid.run("ip", "link", "set", "eth0", "down")  # mid-sourcing's host leaves the network
        push("partition", 10)
        assert len([e for e in acknowledged if e.startswith("partition-")]) == 10  # intake goes on
        net.mid.run("ip", "link", "set", "eth0", "up")
        assert wait_until(all_captured_once, 120)

        captured = _captured(mid_url)
        assert len(acknowledged) == 55
        assert {email: captured.get(email) for email in acknowledged} == dict.fromkeys(
            acknowledged, 1
        )
