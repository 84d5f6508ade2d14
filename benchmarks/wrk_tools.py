"""Drive HTTP load with wrk (Debian package ``wrk``) and read its report."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class WrkResult:
    """Throughput and latency of one wrk run."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    @property
    def acknowledged_per_s(self) -> float:
        """Return the calls per second answered 2xx: a quick refusal (503 when a queue is
        full) or error would inflate wrk's rate."""
        if not self.requests:
            return 0.0
        return self.requests_per_s * (self.requests - self.errors) / self.requests


def require_wrk() -> str:
    """Return wrk's path, or exit with how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    connections: int,
    seconds: int,
    threads: int = 1,
    timeout_seconds: int = 10,
) -> WrkResult:
    """POST ``body`` to ``url`` with wrk and return its throughput and latency percentiles.

    wrk counts an answer slower than its timeout (2 s unless told) as an error and leaves it out
    of the latencies; on a loaded machine a 100-event call can take that long, so the timeout
    is ``timeout_seconds``.
    """
    lines = ['wrk.method = "POST"']
    with tempfile.TemporaryDirectory() as folder:
        body_file = Path(folder) / "body.xml"
        body_file.write_bytes(body)
        lines.append(f'local f = io.open("{body_file}", "rb"); wrk.body = f:read("*a"); f:close()')
        for name, value in headers.items():
            lines.append(f'wrk.headers["{name}"] = "{value}"')
        script = Path(folder) / "post.lua"
        script.write_text("\n".join(lines) + "\n")
        command = [
            require_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            f"--timeout={timeout_seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return WrkResult(rate, p50, p99, total, errors)
