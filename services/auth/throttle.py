"""Throttle repeated failed logons per login and caller address."""

from __future__ import annotations

import threading
import time
from collections import deque

__all__ = ["LogonThrottle"]


class LogonThrottle:
    """Refuse a (login, address) pair for ``lockout`` seconds after too many recent failures."""

    def __init__(self, *, max_failures: int = 5, window: float = 60.0, lockout: float = 60.0):
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def retry_after(self, login: str, address: str) -> float:
        """Return how many seconds the pair must still wait (0 when it may try)."""
        with self._lock:
            until = self._locked_until.get((login, address), 0.0)
        return max(0.0, until - time.monotonic())

    def failed(self, login: str, address: str) -> None:
        """Record a failed logon; lock the pair out once it failed too often."""
        key = (login, address)
        now = time.monotonic()
        with self._lock:
            failures = self._failures.setdefault(key, deque())
            failures.append(now)
            while failures and failures[0] < now - self.window:
                failures.popleft()
            if len(failures) >= self.max_failures:
                self._locked_until[key] = now + self.lockout
                failures.clear()
            if len(self._failures) > 10_000:
                self._forget_stale(now)

    def succeeded(self, login: str, address: str) -> None:
        """Forget the failures of a pair that logged on."""
        with self._lock:
            self._failures.pop((login, address), None)
            self._locked_until.pop((login, address), None)

    def _forget_stale(self, now: float) -> None:
        for key in [k for k, v in self._failures.items() if not v or v[-1] < now - self.window]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until < now]:
            del self._locked_until[key]
