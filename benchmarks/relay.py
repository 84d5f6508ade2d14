"""The end-to-end benchmark's SMTP relay, as a process of its own.

``python -m benchmarks.relay PORT FILE`` accepts every message on 127.0.0.1:PORT (aiosmtpd) and
appends one line per recipient to FILE: the recipient and the arrival time (``time.time()``,
the clock the benchmark stamps its sends with). In the benchmark's own process the relay
competed with the load generator for the GIL and held deliveries back; a real relay is a
server of its own too. :class:`RelayProcess` runs it and reads what arrived.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from benchmarks.processes import free_port, process, python_module

__all__ = ["RelayProcess"]


class _Recorder:
    """Accept every message; write each recipient's arrival time."""

    def __init__(self, out: Any) -> None:
        self.out = out

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        """Record the arrival, then accept."""
        now = time.time()
        self.out.write("".join(f"{rcpt}\t{now}\n" for rcpt in envelope.rcpt_tos))
        self.out.flush()
        return "250 2.0.0 OK"


async def _serve(port: int, out: Any) -> None:
    recorder = _Recorder(out)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(recorder, hostname="relay.bench"), "127.0.0.1", port
    )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    """Serve until SIGTERM: ``python -m benchmarks.relay PORT FILE``."""
    with open(sys.argv[2], "a", encoding="utf-8") as out:
        asyncio.run(_serve(int(sys.argv[1]), out))


class RelayProcess:
    """Run ``python -m benchmarks.relay`` on a free port for the length of a ``with`` block."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.port = free_port()
        self.path = Path(tempfile.mkdtemp(prefix="mcsim-relay-")) / "arrivals.tsv"
        self.path.touch()
        self._stack = ExitStack()
        self.pid = 0  # the relay's process id once started (for its CPU time)

    def __enter__(self) -> RelayProcess:
        command = python_module("benchmarks.relay", str(self.port), str(self.path))
        self.pid = self._stack.enter_context(process(command, tcp_port=self.port))
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.close()

    def arrivals(self) -> dict[str, float]:
        """Return each recipient's first arrival time so far."""
        arrived: dict[str, float] = {}
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.endswith("\n"):  # not a line still being written
                    rcpt, _, when = line[:-1].partition("\t")
                    arrived.setdefault(rcpt, float(when))
        return arrived

    def count(self) -> int:
        """Return how many recipients' messages arrived so far."""
        with self.path.open("rb") as data:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: data.read(1 << 16), b""))


if __name__ == "__main__":
    main()
