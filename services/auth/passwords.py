"""Password hashing with argon2, and a cache so that ``login/password`` calls stay fast.

Campaign callers behind a load balancer send ``login/password`` on every SOAP call. An argon2
verification costs about 0.1 s, so a successful verification is remembered for a while (as
Campaign's ``sessionCacheSec`` does), keyed by an HMAC of the password under a per-process key:
the cache never holds a password, and it forgets an entry as soon as the stored hash changes.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["VerificationCache", "hash_password", "verify_password"]

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Return whether ``password`` matches ``stored_hash`` (False for a corrupt hash too)."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class VerificationCache:
    """Remember successful password verifications for ``ttl`` seconds."""

    def __init__(
        self,
        ttl: float = 600.0,
        *,
        max_entries: int = 10_000,
        verifier: Callable[[str, str], bool] = verify_password,
    ) -> None:
        self.ttl = ttl
        self._verifier = verifier
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._entries: dict[tuple[str, bytes], tuple[str, float]] = {}
        self._key_locks: dict[tuple[str, bytes], threading.Lock] = {}
        self._lock = threading.Lock()
        self._gate = threading.BoundedSemaphore(2)  # argon2 uses 64 MiB and ~0.1 s of CPU

    def _digest(self, password: str) -> bytes:
        return hmac.digest(self._key, password.encode(), "sha256")  # one-shot: OpenSSL in C

    def remembers(self, login: str, stored_hash: str, password: str) -> bool:
        """Return whether this password was verified recently (no argon2 work)."""
        with self._lock:
            hit = self._entries.get((login, self._digest(password)))
        return hit is not None and hit[0] == stored_hash and hit[1] > time.monotonic()

    def verify(self, login: str, stored_hash: str, password: str) -> bool:
        """Return whether ``password`` matches, verifying with argon2 only on a cache miss.

        Concurrent checks of the same credentials wait for one verification (no stampede of
        argon2 runs when many calls arrive at once), and at most two verifications run at a time.
        """
        if self.remembers(login, stored_hash, password):
            return True
        key = (login, self._digest(password))
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            if self.remembers(login, stored_hash, password):
                return True
            with self._gate:
                verified = self._verifier(stored_hash, password)
            with self._lock:
                self._key_locks.pop(key, None)
                if verified:
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                    self._entries[key] = (stored_hash, time.monotonic() + self.ttl)
        return verified

    def forget(self, login: str) -> None:
        """Drop every remembered verification of ``login`` (its password changed)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == login]:
                del self._entries[key]
