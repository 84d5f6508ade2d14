"""Which backend serves a request: round-robin, the instance holding an event, or a key's hash.

Each worker keeps a local view of the shared backend table (parsed URLs, counters' offsets),
rebuilt when the table's generation changes; health states are read from shared memory on every
pick, so all workers avoid an ejected backend at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass

import httpx

from load_balancer.shared import DOWN, SharedState

__all__ = ["Backend", "Balancer"]


@dataclass(slots=True, eq=False)
class Backend:
    """One backend as a worker sees it."""

    index: int
    serial: int
    url: str
    base_url: httpx.URL
    host: bytes
    instance_id: int | None
    state_at: int
    counters_at: int
    hash_key: bytes


class Balancer:
    """Pick backends for one worker from the shared table."""

    def __init__(self, shared: SharedState, *, worker: int = 0) -> None:
        self.shared = shared
        self.worker = worker
        self._generation = -1
        self._backends: list[Backend] = []
        self._next = 0

    def backends(self) -> list[Backend]:
        """Return the current backends, in table order."""
        if self.shared.generation != self._generation:
            self._rebuild()
        return self._backends

    def _rebuild(self) -> None:
        generation = self.shared.generation
        backends = []
        for slot in self.shared.slots():
            url = httpx.URL(slot.url)
            backends.append(
                Backend(
                    index=slot.index,
                    serial=slot.serial,
                    url=slot.url,
                    base_url=url,
                    host=url.netloc,
                    instance_id=slot.instance_id,
                    state_at=self.shared.state_index(slot.index),
                    counters_at=self.shared.counter_base(self.worker, slot.index),
                    hash_key=slot.url.encode("utf-8"),
                )
            )
        self._backends = backends
        self._generation = generation

    def usable(self, backend: Backend) -> bool:
        """Return whether ``backend`` may get requests (up, or not checked yet)."""
        return self.shared.ints[backend.state_at] != DOWN

    def round_robin(self, tried: Collection[Backend] = ()) -> Backend | None:
        """Return the next usable backend, or None when there is none."""
        backends = self.backends()
        count = len(backends)
        ints = self.shared.ints
        for _ in range(count):
            self._next = (self._next + 1) % count
            backend = backends[self._next]
            if ints[backend.state_at] != DOWN and backend not in tried:
                return backend
        return None

    def serving_instance(self, instance_id: int) -> list[Backend]:
        """Return the backends that report ``instance_id`` (replicas share one)."""
        return [b for b in self.backends() if b.instance_id == instance_id]

    def for_instance(self, instance_id: int, tried: Collection[Backend] = ()) -> Backend | None:
        """Return a usable backend of execution instance ``instance_id``, round-robin."""
        replicas = [
            b for b in self.serving_instance(instance_id) if self.usable(b) and b not in tried
        ]
        if not replicas:
            return None
        self._next += 1
        return replicas[self._next % len(replicas)]

    def for_key(self, key: bytes, tried: Collection[Backend] = ()) -> Backend | None:
        """Return the backend that owns a key, or a replica of its instance; None when down.

        The owner is the backend with the highest score from the key and its URL (rendezvous
        hashing), up or down: the same in every worker and process, across restarts, and only a
        backend added or removed moves keys. A key means one event (issue 17): only its owner's
        instance remembers it, so a keyed request never goes to another instance — while the
        owner is down the caller is told to retry (replicas of the owner's instance, which share
        its database and so its keys, may serve it).
        """
        owner: Backend | None = None
        best_score = b""
        for backend in self.backends():
            score = hashlib.blake2b(key + b"\0" + backend.hash_key, digest_size=8).digest()
            if owner is None or score > best_score:
                owner, best_score = backend, score
        if owner is None:
            return None
        if owner not in tried and self.usable(owner):
            return owner
        if owner.instance_id is None:
            return None
        return self.for_instance(owner.instance_id, tried)

    def eject(self, backend: Backend, error: str) -> bool:
        """Mark ``backend`` down after a failed request; return whether it was up before."""
        return self.shared.eject(backend.index, backend.serial, error)
