"""Throttle repeated failed logons per login and caller address.

Two rules keep the count honest (security review F2b, F2c):

* A success never clears the failures: they expire ``window`` seconds after they happened. A
  legitimate client that keeps logging on from an address (a busy integration, every caller
  behind one NAT) would otherwise reset the count between an attacker's guesses from that same
  address. A client that never fails is never locked by its own calls; an attacker sharing its
  address can still lock the pair out for ``lockout`` seconds — the price of any per-address
  lockout, and the reason a locked pair is refused even with the right password.
* A password check is reserved before it runs (:meth:`LogonThrottle.reserve`): failures
  already counted plus checks in flight never exceed ``max_failures``, so many concurrent
  guesses cannot all be checked before the first of them is counted. A further check waits
  until one in flight ends (a success frees its place at once; failures lead to the lockout).
"""

from __future__ import annotations

import threading
import time
from collections import deque

__all__ = ["LogonThrottle"]

#: Longest a check waits for a place among the checks in flight before it is refused.
_MAX_WAIT_SECONDS = 10.0


class LogonThrottle:
    """Refuse a (login, address) pair for ``lockout`` seconds after too many recent failures."""

    def __init__(self, *, max_failures: int = 5, window: float = 60.0, lockout: float = 60.0):
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._locked_until: dict[tuple[str, str], float] = {}
        self._in_flight: dict[tuple[str, str], int] = {}
        self._changed = threading.Condition()

    def retry_after(self, login: str, address: str) -> float:
        """Return how many seconds the pair must still wait (0 when it may try)."""
        with self._changed:
            until = self._locked_until.get((login, address), 0.0)
        return max(0.0, until - time.monotonic())

    def reserve(self, login: str, address: str) -> float:
        """Reserve one password check for the pair: 0 when reserved, else seconds to wait.

        Blocks (in a worker thread, never on the event loop) while the failures counted and
        the checks in flight already fill the pair's allowance. Every reservation must be
        ended with :meth:`release`.
        """
        key = (login, address)
        deadline = time.monotonic() + _MAX_WAIT_SECONDS
        with self._changed:
            while True:
                now = time.monotonic()
                until = self._locked_until.get(key, 0.0)
                if until > now:
                    return until - now
                counted = self._recent_count(key, now)
                in_flight = self._in_flight.get(key, 0)
                if counted + in_flight < self.max_failures:
                    self._in_flight[key] = in_flight + 1
                    return 0.0
                if now >= deadline:
                    return self.lockout
                self._changed.wait(timeout=min(1.0, deadline - now))

    def release(self, login: str, address: str, *, failed: bool) -> None:
        """End a reservation; count it as a failure when the password was wrong."""
        key = (login, address)
        with self._changed:
            left = self._in_flight.get(key, 0) - 1
            if left > 0:
                self._in_flight[key] = left
            else:
                self._in_flight.pop(key, None)
            if failed:
                self._count_failure(key)
            self._changed.notify_all()

    def failed(self, login: str, address: str) -> None:
        """Record a failed logon; lock the pair out once it failed too often."""
        with self._changed:
            self._count_failure((login, address))
            self._changed.notify_all()

    def _count_failure(self, key: tuple[str, str]) -> None:
        now = time.monotonic()
        failures = self._failures.setdefault(key, deque())
        self._expire(failures, now)
        failures.append(now)
        if len(failures) >= self.max_failures:
            self._locked_until[key] = now + self.lockout
            failures.clear()
        if len(self._failures) > 10_000:
            self._forget_stale(now)

    def _recent_count(self, key: tuple[str, str], now: float) -> int:
        failures = self._failures.get(key)
        if failures is None:
            return 0
        self._expire(failures, now)
        return len(failures)

    def _expire(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] < now - self.window:
            failures.popleft()

    def _forget_stale(self, now: float) -> None:
        for key in [k for k, v in self._failures.items() if not v or v[-1] < now - self.window]:
            del self._failures[key]
        for key in [k for k, until in self._locked_until.items() if until < now]:
            del self._locked_until[key]
