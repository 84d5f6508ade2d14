"""Start and stop the processes a benchmark measures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(health_url: str) -> bool:
    try:
        return httpx.get(health_url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _listens(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@contextmanager
def process(
    command: list[str],
    *,
    health_url: str | None = None,
    tcp_port: int | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[int]:
    """Run ``command`` until the block ends; first wait until it is ready.

    Ready: ``health_url`` answers 200, or (for a server that is not HTTP) something accepts
    connections on 127.0.0.1:``tcp_port``. The block gets the process id (for
    :func:`cpu_seconds`).
    """
    if health_url is not None:
        url = health_url

        def ready() -> bool:
            return _answers(url)
    elif tcp_port is not None:
        port = tcp_port

        def ready() -> bool:
            return _listens(port)
    else:
        raise TypeError("process() needs health_url or tcp_port")
    # A file, not a pipe: a service logging every request would fill a pipe nobody reads.
    log = tempfile.NamedTemporaryFile(prefix="mcsim-bench-", suffix=".log", delete=False)  # noqa: SIM115
    child = subprocess.Popen(
        command,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if child.poll() is not None:
                raise SystemExit(f"{command} exited: {Path(log.name).read_text()[-2000:]}")
            if ready():
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{command} did not become healthy")
            time.sleep(0.1)
        yield child.pid
    finally:
        os.killpg(child.pid, signal.SIGTERM)
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system, all threads) process ``pid`` has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def python_module(module: str, *args: str) -> list[str]:
    """Return the command that runs ``python -m module``."""
    return [sys.executable, "-m", module, *args]
