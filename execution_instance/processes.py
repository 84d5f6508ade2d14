"""The processes of one execution instance and what they share.

An execution instance runs either as one process (HTTP and processing together, as
``create_app`` builds it for tests and embedding) or, from ``python -m execution_instance``, as a
small master (:mod:`execution_instance.server`) with

* **web** processes: SOAP, REST, WSDLs, the control plane; they store events (group commit) and
  never render. They share the port through ``SO_REUSEPORT``;
* **processing** processes: the workers that claim, route, render and hand events over to
  mid-sourcing, and (the first one only) the status sync. They share the queue through the
  database, exactly as replicas of an instance sharing a PostgreSQL database do.

They share, through memory the master maps before it forks (:class:`SharedMemory`):

* a **configuration generation**: a change through the control plane (a template published, an
  event type, an operator, a token, an instance id) bumps it once committed and before it is
  answered; every process compares it with the one it last read before each request and each
  claim, and re-reads its caches when it moved. So a change answered by one process is seen by
  the next call whichever process takes it;
* the **process table** (role and pid of each child), which ``/health`` reports;

and a **wake-up pipe** (:class:`Wakeup`): a web process writes a byte when it has stored events,
which wakes a processing process at once instead of at its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from services.prefork import usable_cores

__all__ = [
    "MAX_PROCESSES",
    "ProcessContext",
    "ProcessLayout",
    "Role",
    "SharedMemory",
    "Wakeup",
    "usable_cores",
]

MAX_PROCESSES = 64
_ROLE_BYTES = 24
_HEADER = struct.Struct("<q")  # the configuration generation
_SLOT = struct.Struct(f"<q{_ROLE_BYTES}s")  # pid, role
_SIZE = _HEADER.size + MAX_PROCESSES * _SLOT.size


class Role(StrEnum):
    """What one process of an execution instance does."""

    ALL = "all"  # HTTP and processing in one process
    WEB = "web"
    PROCESSING = "processing"


@dataclass(frozen=True)
class ProcessLayout:
    """How many web and processing processes an instance runs."""

    web: int
    processing: int

    @property
    def single(self) -> bool:
        """Return whether everything runs in one process (no master)."""
        return self.web == 1 and self.processing == 0

    @classmethod
    def choose(
        cls, *, web: int | None, processing: int | None, workers: int, cores: int | None = None
    ) -> ProcessLayout:
        """Return the layout for the settings.

        ``cores`` is what the instance counts on (default: every usable core). ``None`` means
        one per two of those cores, at least one. Processing 0 keeps the workers in the
        (single) web process. Without workers (intake only) nothing needs a processing process.

        One process doing both is never the default, even with one core: it would save about
        95 MiB, but measured with two instances on two cores it delivered 10-20 % fewer events
        for more CPU per event (benchmarks/RESULTS.md, footprint).
        """
        half = max(1, (usable_cores() if cores is None else cores) // 2)
        web = half if web is None else web
        processing = half if processing is None else processing
        if workers == 0:
            processing = 0
        elif processing == 0 and web > 1:
            raise ValueError(
                "processing_processes 0 runs the workers inside the web process, which needs "
                "web_processes 1"
            )
        return cls(web=web, processing=processing)

    def roles(self) -> list[tuple[Role, int]]:
        """Return each process's role and its index among those of its role."""
        return [(Role.WEB, i) for i in range(self.web)] + [
            (Role.PROCESSING, i) for i in range(self.processing)
        ]

    def describe(self) -> str:
        """Return a short description, e.g. ``2 web + 1 processing``."""
        if self.single:
            return "1 process (web and processing)"
        return f"{self.web} web + {self.processing} processing"


class SharedMemory:
    """The generation and the process table, in anonymous shared memory (or a bytearray)."""

    def __init__(self, buffer: mmap.mmap | bytearray) -> None:
        self._buffer = buffer
        self.seen = self.generation

    @classmethod
    def create(cls, *, between_processes: bool) -> SharedMemory:
        """Return zeroed memory; ``between_processes``: mapped shared, for children to fork."""
        if between_processes:
            return cls(mmap.mmap(-1, _SIZE, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS))
        return cls(bytearray(_SIZE))

    # -- the configuration generation ---------------------------------------------------------
    @property
    def generation(self) -> int:
        """Return the current configuration generation."""
        value: int = _HEADER.unpack_from(self._buffer, 0)[0]
        return value

    def bump(self) -> None:
        """Tell every process that the configuration changed (after its commit).

        Two processes bumping at once may both write the same value; what matters is that it
        differs from what every other process last read, which it does.
        """
        _HEADER.pack_into(self._buffer, 0, self.generation + 1)

    def moved(self) -> bool:
        """Return whether the generation moved since this process last caught up."""
        return self.generation != self.seen

    def catch_up(self, reload: Callable[[], None]) -> None:
        """Run ``reload`` if the generation moved, then remember the generation it saw."""
        current = self.generation
        if current != self.seen:
            reload()
            self.seen = current

    # -- the process table --------------------------------------------------------------------
    def set_process(self, slot: int, role: str, pid: int) -> None:
        """Record the process running in ``slot`` (written by the master after each fork)."""
        _SLOT.pack_into(
            self._buffer, _HEADER.size + slot * _SLOT.size, pid, role.encode()[:_ROLE_BYTES]
        )

    def processes(self) -> list[tuple[str, int]]:
        """Return the (role, pid) of every recorded process, in slot order."""
        found = []
        for slot in range(MAX_PROCESSES):
            pid, role = _SLOT.unpack_from(self._buffer, _HEADER.size + slot * _SLOT.size)
            if pid:
                found.append((role.rstrip(b"\0").decode(), pid))
        return found


class Wakeup:
    """A pipe from the web processes (which stored events) to the processing processes.

    Writes never block: a full pipe already holds wake-ups nobody has read. Each reader drains
    what is there and wakes one of its workers. The requests a group commit answers together
    all call :meth:`notify` in one turn of the event loop; they write one byte, not one each.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK)
        self._scheduled = False

    def notify(self) -> None:
        """Wake a processing process (from a web process), once per turn of the event loop."""
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a thread): at once
            self._send()
            return
        self._scheduled = True
        loop.call_soon(self._send)

    def _send(self) -> None:
        self._scheduled = False
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            os.write(self._write, b"\0")

    def reader(self) -> int:
        """Return the descriptor a processing process watches."""
        return self._read

    def drain(self) -> bool:
        """Read what is waiting; return whether there was anything."""
        got = False
        while True:
            try:
                data = os.read(self._read, 4096)
            except BlockingIOError:
                return got
            if not data:
                return got
            got = True


@dataclass(frozen=True)
class ProcessContext:
    """Who this process is among the instance's processes, and what they share."""

    role: Role
    index: int
    shared: SharedMemory
    wakeup: Wakeup
