"""Passwords, tokens, security zones and logon throttling."""

from __future__ import annotations

import re
import threading
import time

import pytest
from pydantic import ValidationError

from services.auth.passwords import VerificationCache, hash_password, verify_password
from services.auth.throttle import LogonThrottle
from services.auth.tokens import new_security_token, new_session_token, same_secret, token_digest
from services.auth.zones import SecurityZone, ZoneTable, default_zones


def test_passwords_are_hashed_with_argon2id_and_verified() -> None:
    stored = hash_password("s3cret")
    assert stored.startswith("$argon2id$")
    assert "s3cret" not in stored
    assert verify_password(stored, "s3cret")
    assert not verify_password(stored, "S3cret")
    assert not verify_password("not-a-hash", "s3cret")


def test_cache_skips_argon2_on_repeat_and_forgets_a_changed_hash() -> None:
    calls: list[str] = []

    def counting(stored_hash: str, password: str) -> bool:
        calls.append(password)
        return verify_password(stored_hash, password)

    cache = VerificationCache(ttl=60, verifier=counting)
    stored = hash_password("mc")
    for _ in range(100):
        assert cache.verify("mc", stored, "mc")
    assert calls == ["mc"]
    assert not cache.verify("mc", stored, "wrong")
    assert not cache.verify("mc", stored, "wrong")
    assert calls == ["mc", "wrong", "wrong"]  # failures are never cached
    changed = hash_password("new")
    assert not cache.verify("mc", changed, "mc")
    assert cache.verify("mc", changed, "new")


def test_concurrent_checks_of_the_same_credentials_run_argon2_once() -> None:
    calls: list[str] = []
    gate = threading.Event()

    def slow(stored_hash: str, password: str) -> bool:
        calls.append(password)
        gate.wait(5)
        return verify_password(stored_hash, password)

    cache = VerificationCache(ttl=60, verifier=slow)
    stored = hash_password("mc")
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def check() -> None:
        barrier.wait()
        results.append(cache.verify("mc", stored, "mc"))

    threads = [threading.Thread(target=check) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # every thread is inside verify(), queued behind the first argon2 run
    gate.set()
    for thread in threads:
        thread.join()
    assert results == [True] * 16
    assert calls == ["mc"]


def test_cache_entries_expire() -> None:
    cache = VerificationCache(ttl=0.0)
    stored = hash_password("mc")
    assert cache.verify("mc", stored, "mc")
    cache._entries = {k: ("other-hash", v[1]) for k, v in cache._entries.items()}
    assert cache.verify("mc", stored, "mc")  # miss → argon2 again, still right


def test_tokens_have_campaign_formats_and_are_random() -> None:
    session = new_session_token()
    assert re.fullmatch(
        r"___[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}", session
    )
    assert new_session_token() != session
    security = new_security_token()
    assert security.startswith("@")
    assert len(security) >= 40
    assert token_digest(session) != session
    assert len(token_digest(session)) == 64
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")


def test_zones_pick_the_most_specific_network() -> None:
    table = ZoneTable(
        [
            SecurityZone(name="lan", networks=["10.0.0.0/8"], allow_user_password=True),
            SecurityZone(name="site", networks=["10.1.2.0/24"], session_token_only=True),
            *default_zones(),
        ]
    )
    assert table.match("10.9.9.9").name == "lan"  # type: ignore[union-attr]
    assert table.match("10.1.2.3").name == "site"  # type: ignore[union-attr]
    assert table.match("127.0.0.1").name == "loopback"  # type: ignore[union-attr]
    assert table.match("::1").name == "loopback"  # type: ignore[union-attr]
    assert table.match("::ffff:127.0.0.1").name == "loopback"  # type: ignore[union-attr]
    assert table.match("192.0.2.1") is None
    assert table.match("not-an-ip") is None
    assert table.match(None) is None


def test_zone_networks_are_validated() -> None:
    with pytest.raises(ValidationError):
        SecurityZone(name="bad", networks=["10.0.0.300/8"])
    with pytest.raises(ValidationError):
        SecurityZone(name="empty", networks=[])


def test_throttle_locks_out_after_repeated_failures_per_login_and_address() -> None:
    throttle = LogonThrottle(max_failures=3, window=60, lockout=30)
    for _ in range(2):
        throttle.failed("mc", "127.0.0.1")
    assert throttle.retry_after("mc", "127.0.0.1") == 0
    throttle.failed("mc", "127.0.0.1")
    assert 29 < throttle.retry_after("mc", "127.0.0.1") <= 30
    assert throttle.retry_after("mc", "127.0.0.2") == 0
    assert throttle.retry_after("other", "127.0.0.1") == 0
