"""The balancer's state, shared by its worker processes: backend table, health and counters.

With several workers (``MCSIM_LB_WORKERS``) every process maps the same anonymous shared memory,
created by the master before it forks them. It holds:

* the backend table — one slot per backend: URL, state (unknown, up, down), instance id, the
  health checker's consecutive successes and failures, the last error. Adding, removing and
  learning an instance id bump a *generation* number under a lock; workers rebuild their local
  view of the table when it changes. Health states are read from the table on every pick, so a
  backend ejected by one worker is avoided by all of them at once;
* counters — one block per worker and backend (requests, in flight, failures, 5xx answers,
  a latency histogram) and per worker (requests the balancer answered itself). Each worker
  writes only its own block, so no lock is needed; readers add the blocks up.

``/_lb/status`` and ``/metrics`` read this memory directly, so any worker gives the same answer.
With one worker the same layout lives in an ordinary ``bytearray``.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import mmap
import multiprocessing
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BUCKETS_MS",
    "DOWN",
    "MAX_BACKENDS",
    "MAX_WORKERS",
    "STATE_NAMES",
    "UNKNOWN",
    "UP",
    "BackendCounters",
    "BackendSlot",
    "SharedState",
    "TableFull",
    "WorkerCounters",
    "bucket_offset",
    "percentile",
]

MAX_BACKENDS = 64
MAX_WORKERS = 32
URL_BYTES = 240
ERROR_BYTES = 200

UNKNOWN, UP, DOWN = 0, 1, 2
STATE_NAMES = {UNKNOWN: "unknown", UP: "up", DOWN: "down"}

#: Upper bounds (milliseconds) of the latency histogram's buckets; the last one is +Inf.
BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2500, 5000, 10000, 30000, math.inf)

# Header (int64 indexes).
_MAGIC, _GENERATION, _WORKERS, _SERIALS = 0, 1, 2, 3
_HEADER_INTS = 8
_MAGIC_VALUE = 0x6D6373696D6C6231  # "mcsimlb1"

# One backend slot: integer fields, then the URL and the last error as bytes.
_USED, _SERIAL, _STATE, _INSTANCE, _OKS, _FAILS, _CHANGED_MS, _CHECKED_MS = range(8)
_URL_LEN, _ERROR_LEN = 8, 9
_SLOT_INTS = 16
_SLOT_BYTES = _SLOT_INTS * 8 + URL_BYTES + ERROR_BYTES + 16  # keeps slots 8-byte aligned

# Counters of one worker for one backend.
REQUESTS, IN_FLIGHT, FAILURES, TIMEOUTS, RESPONSES_5XX, RETRIES, LATENCY_SUM_US = range(7)
_BUCKET0 = 8
_BACKEND_COUNTERS = _BUCKET0 + len(BUCKETS_MS)

# Counters of one worker for itself.
W_PID, W_REQUESTS, W_NO_BACKEND, W_TOO_LARGE, W_BAD_REQUEST, W_CLIENT_GONE = range(6)
_WORKER_COUNTERS = 8


class TableFull(Exception):
    """No free slot is left for another backend."""


class _Lock(Protocol):
    def acquire(self, block: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...


@dataclass(frozen=True)
class BackendSlot:
    """A snapshot of one backend's slot."""

    index: int
    serial: int
    url: str
    state: int
    instance_id: int | None
    oks: int
    fails: int
    changed_ms: int
    checked_ms: int
    error: str

    @property
    def state_name(self) -> str:
        """Return ``unknown``, ``up`` or ``down``."""
        return STATE_NAMES.get(self.state, "unknown")


@dataclass(frozen=True)
class BackendCounters:
    """One backend's counters, added up over every worker."""

    requests: int
    in_flight: int
    failures: int
    timeouts: int
    responses_5xx: int
    retries: int
    latency_sum_us: int
    buckets: tuple[int, ...]


@dataclass(frozen=True)
class WorkerCounters:
    """What one worker answered itself."""

    worker: int
    pid: int
    requests: int
    no_backend: int
    too_large: int
    bad_request: int
    client_gone: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class SharedState:
    """The backend table and counters, in memory shared by every worker of one balancer."""

    def __init__(self, buffer: mmap.mmap | bytearray, workers: int, lock: _Lock) -> None:
        self.buffer = buffer
        self.workers = workers
        self._lock = lock
        self.bytes = memoryview(buffer)
        self.ints = self.bytes.cast("q")
        self._table = _HEADER_INTS * 8
        self._counters = self._table + MAX_BACKENDS * _SLOT_BYTES
        self._worker_block = self._counters + workers * MAX_BACKENDS * _BACKEND_COUNTERS * 8

    @classmethod
    def create(cls, workers: int = 1, *, between_processes: bool = False) -> SharedState:
        """Return an empty state for ``workers`` workers (in shared memory across a fork)."""
        if not 1 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be between 1 and {MAX_WORKERS}")
        size = (
            _HEADER_INTS * 8
            + MAX_BACKENDS * _SLOT_BYTES
            + workers * MAX_BACKENDS * _BACKEND_COUNTERS * 8
            + workers * _WORKER_COUNTERS * 8
        )
        buffer: mmap.mmap | bytearray
        lock: _Lock
        if between_processes:
            buffer = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)
            lock = multiprocessing.get_context("fork").Lock()
        else:
            buffer = bytearray(size)
            lock = threading.Lock()
        state = cls(buffer, workers, lock)
        state.ints[_MAGIC] = _MAGIC_VALUE
        state.ints[_WORKERS] = workers
        return state

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the table lock (adding, removing, learning instance ids)."""
        self._lock.acquire()
        try:
            yield
        finally:
            self._lock.release()

    # -- the backend table -------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Return the table's generation: it changes when a backend is added, removed or named."""
        return self.ints[_GENERATION]

    def slot_base(self, index: int) -> int:
        """Return the int64 index of slot ``index``'s first field."""
        return (self._table + index * _SLOT_BYTES) // 8

    def state_index(self, index: int) -> int:
        """Return the int64 index of slot ``index``'s state (read on every pick)."""
        return self.slot_base(index) + _STATE

    def add(self, url: str) -> BackendSlot:
        """Add a backend (state unknown until its first health check) and return its slot."""
        encoded = url.encode("utf-8")
        if len(encoded) > URL_BYTES:
            raise ValueError(f"a backend URL is at most {URL_BYTES} bytes")
        with self.locked():
            free = None
            for index in range(MAX_BACKENDS):
                base = self.slot_base(index)
                if self.ints[base + _USED]:
                    if self._url(index) == url:
                        raise ValueError(f"{url} is already a backend")
                elif free is None:
                    free = index
            if free is None:
                raise TableFull(f"the balancer holds at most {MAX_BACKENDS} backends")
            base = self.slot_base(free)
            self.ints[_SERIALS] += 1
            for field in range(_SLOT_INTS):
                self.ints[base + field] = 0
            self.ints[base + _SERIAL] = self.ints[_SERIALS]
            self.ints[base + _INSTANCE] = -1
            self.ints[base + _CHANGED_MS] = _now_ms()
            start = base * 8 + _SLOT_INTS * 8
            self.bytes[start : start + len(encoded)] = encoded
            self.ints[base + _URL_LEN] = len(encoded)
            self._clear_counters(free)
            self.ints[base + _USED] = 1
            self.ints[_GENERATION] += 1
        return self.slot(free)

    def remove(self, url: str) -> bool:
        """Remove the backend with ``url``; return whether there was one."""
        with self.locked():
            for index in range(MAX_BACKENDS):
                base = self.slot_base(index)
                if self.ints[base + _USED] and self._url(index) == url:
                    self.ints[base + _USED] = 0
                    self.ints[_GENERATION] += 1
                    return True
        return False

    def slots(self) -> list[BackendSlot]:
        """Return every backend, in slot order (the same order in every worker)."""
        while True:
            generation = self.generation
            found = [
                self.slot(i) for i in range(MAX_BACKENDS) if self.ints[self.slot_base(i) + _USED]
            ]
            if self.generation == generation:
                return found

    def slot(self, index: int) -> BackendSlot:
        """Return a snapshot of slot ``index``."""
        base = self.slot_base(index)
        instance = self.ints[base + _INSTANCE]
        error_start = base * 8 + _SLOT_INTS * 8 + URL_BYTES
        error = bytes(self.bytes[error_start : error_start + self.ints[base + _ERROR_LEN]])
        return BackendSlot(
            index=index,
            serial=self.ints[base + _SERIAL],
            url=self._url(index),
            state=self.ints[base + _STATE],
            instance_id=None if instance < 0 else instance,
            oks=self.ints[base + _OKS],
            fails=self.ints[base + _FAILS],
            changed_ms=self.ints[base + _CHANGED_MS],
            checked_ms=self.ints[base + _CHECKED_MS],
            error=error.decode("utf-8", "replace"),
        )

    def _url(self, index: int) -> str:
        base = self.slot_base(index)
        start = base * 8 + _SLOT_INTS * 8
        return bytes(self.bytes[start : start + self.ints[base + _URL_LEN]]).decode("utf-8")

    def _current(self, index: int, serial: int) -> int | None:
        base = self.slot_base(index)
        if self.ints[base + _USED] and self.ints[base + _SERIAL] == serial:
            return base
        return None

    def set_state(self, index: int, serial: int, state: int, error: str | None = None) -> bool:
        """Set a backend's state (and last error); return whether the state changed."""
        base = self._current(index, serial)
        if base is None:
            return False
        if error is not None:
            self._set_error(base, error)
        if self.ints[base + _STATE] == state:
            return False
        self.ints[base + _STATE] = state
        self.ints[base + _CHANGED_MS] = _now_ms()
        return True

    def eject(self, index: int, serial: int, error: str) -> bool:
        """Mark a backend down after a failed request; the health checker brings it back."""
        base = self._current(index, serial)
        if base is None:
            return False
        self.ints[base + _OKS] = 0
        return self.set_state(index, serial, DOWN, error)

    def record_check(self, index: int, serial: int, *, ok: bool) -> tuple[int, int]:
        """Count one health check; return the consecutive successes and failures."""
        base = self._current(index, serial)
        if base is None:
            return 0, 0
        if ok:
            self.ints[base + _OKS] += 1
            self.ints[base + _FAILS] = 0
        else:
            self.ints[base + _FAILS] += 1
            self.ints[base + _OKS] = 0
        self.ints[base + _CHECKED_MS] = _now_ms()
        return self.ints[base + _OKS], self.ints[base + _FAILS]

    def set_instance(self, index: int, serial: int, instance_id: int | None) -> None:
        """Record the instance id a backend reports (its PKeys' high byte)."""
        value = -1 if instance_id is None else instance_id
        with self.locked():
            base = self._current(index, serial)
            if base is not None and self.ints[base + _INSTANCE] != value:
                self.ints[base + _INSTANCE] = value
                self.ints[_GENERATION] += 1

    def _set_error(self, base: int, error: str) -> None:
        encoded = error.encode("utf-8")[:ERROR_BYTES]
        start = base * 8 + _SLOT_INTS * 8 + URL_BYTES
        self.ints[base + _ERROR_LEN] = 0
        self.bytes[start : start + len(encoded)] = encoded
        self.ints[base + _ERROR_LEN] = len(encoded)

    # -- counters ------------------------------------------------------------------------------

    def counter_base(self, worker: int, index: int) -> int:
        """Return the int64 index of a worker's counters for slot ``index``."""
        return self._counters // 8 + (worker * MAX_BACKENDS + index) * _BACKEND_COUNTERS

    def worker_base(self, worker: int) -> int:
        """Return the int64 index of a worker's own counters."""
        return self._worker_block // 8 + worker * _WORKER_COUNTERS

    def _clear_counters(self, index: int) -> None:
        for worker in range(self.workers):
            base = self.counter_base(worker, index)
            for field in range(_BACKEND_COUNTERS):
                self.ints[base + field] = 0

    def reset_worker(self, worker: int, pid: int) -> None:
        """Start a (re)started worker's block: nothing in flight, its pid recorded."""
        for index in range(MAX_BACKENDS):
            self.ints[self.counter_base(worker, index) + IN_FLIGHT] = 0
        self.ints[self.worker_base(worker) + W_PID] = pid

    def backend_counters(self, index: int) -> BackendCounters:
        """Return slot ``index``'s counters, added up over every worker."""
        totals = [0] * _BACKEND_COUNTERS
        for worker in range(self.workers):
            base = self.counter_base(worker, index)
            for field in range(_BACKEND_COUNTERS):
                totals[field] += self.ints[base + field]
        return BackendCounters(
            requests=totals[REQUESTS],
            in_flight=max(0, totals[IN_FLIGHT]),
            failures=totals[FAILURES],
            timeouts=totals[TIMEOUTS],
            responses_5xx=totals[RESPONSES_5XX],
            retries=totals[RETRIES],
            latency_sum_us=totals[LATENCY_SUM_US],
            buckets=tuple(totals[_BUCKET0:]),
        )

    def worker_counters(self) -> list[WorkerCounters]:
        """Return what each worker answered itself."""
        result = []
        for worker in range(self.workers):
            base = self.worker_base(worker)
            result.append(
                WorkerCounters(
                    worker=worker,
                    pid=self.ints[base + W_PID],
                    requests=self.ints[base + W_REQUESTS],
                    no_backend=self.ints[base + W_NO_BACKEND],
                    too_large=self.ints[base + W_TOO_LARGE],
                    bad_request=self.ints[base + W_BAD_REQUEST],
                    client_gone=self.ints[base + W_CLIENT_GONE],
                )
            )
        return result


def bucket_offset(latency_ms: float) -> int:
    """Return the counter offset of the histogram bucket for ``latency_ms``."""
    return _BUCKET0 + bisect.bisect_left(BUCKETS_MS, latency_ms)


def percentile(buckets: tuple[int, ...], fraction: float) -> float | None:
    """Estimate the ``fraction`` quantile (ms) from a histogram, interpolating in its bucket."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    lower = 0.0
    for bound, count in zip(BUCKETS_MS, buckets, strict=True):
        if count and seen + count >= rank:
            if math.isinf(bound):
                return lower
            return round(lower + (bound - lower) * (rank - seen) / count, 3)
        seen += count
        lower = float(bound)
    return lower
