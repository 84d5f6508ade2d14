"""The logon throttle's counting rules and whose X-Forwarded-For is believed (review F2)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from services.auth.throttle import LogonThrottle
from services.forwarding import TrustedProxies


def test_successes_never_clear_the_failures_of_a_pair() -> None:
    throttle = LogonThrottle(max_failures=3, window=60, lockout=30)
    for _ in range(3):
        assert throttle.reserve("mid", "127.0.0.1") == 0
        throttle.release("mid", "127.0.0.1", failed=False)  # the busy legitimate client
        assert throttle.reserve("mid", "127.0.0.1") == 0
        throttle.release("mid", "127.0.0.1", failed=True)  # the attacker beside it
    assert 29 < throttle.reserve("mid", "127.0.0.1") <= 30
    assert throttle.retry_after("mid", "127.0.0.1") > 29


def test_a_client_that_never_fails_is_never_locked() -> None:
    throttle = LogonThrottle(max_failures=2, window=60, lockout=30)
    for _ in range(50):
        assert throttle.reserve("mc", "127.0.0.1") == 0
        throttle.release("mc", "127.0.0.1", failed=False)
    assert throttle.retry_after("mc", "127.0.0.1") == 0


def test_failures_expire_after_the_window() -> None:
    throttle = LogonThrottle(max_failures=2, window=0.05, lockout=30)
    throttle.failed("mc", "127.0.0.1")
    time.sleep(0.1)
    throttle.failed("mc", "127.0.0.1")
    assert throttle.retry_after("mc", "127.0.0.1") == 0


def test_concurrent_checks_never_exceed_the_allowance() -> None:
    throttle = LogonThrottle(max_failures=5, window=60, lockout=30)
    checked = 0
    lock = threading.Lock()

    def guess(_: int) -> bool:
        nonlocal checked
        if throttle.reserve("mc", "127.0.0.1") > 0:
            return False
        with lock:
            checked += 1
        time.sleep(0.05)  # the argon2 verification
        throttle.release("mc", "127.0.0.1", failed=True)
        return True

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(guess, range(40)))
    assert checked == results.count(True) == 5
    assert throttle.retry_after("mc", "127.0.0.1") > 0


def test_concurrent_successes_wait_for_a_place_instead_of_being_refused() -> None:
    throttle = LogonThrottle(max_failures=2, window=60, lockout=30)

    def log_on(_: int) -> float:
        wait = throttle.reserve("mc", "127.0.0.1")
        if wait == 0:
            time.sleep(0.01)
            throttle.release("mc", "127.0.0.1", failed=False)
        return wait

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(log_on, range(10))) == [0.0] * 10


def test_without_a_secret_only_trusted_networks_are_believed() -> None:
    default = TrustedProxies([])
    assert default.client("127.0.0.1", "127.0.0.9") == "127.0.0.1"
    compose = TrustedProxies(["172.29.80.80/32"])
    assert compose.client("172.29.80.80", "10.9.9.9, 172.29.80.1") == "172.29.80.1"
    assert compose.client("172.29.80.1", "127.0.0.9") == "172.29.80.1"


def test_with_a_secret_only_the_balancers_own_hop_is_believed() -> None:
    proxies = TrustedProxies([], secret="s3cret")
    # A local caller: no proof, its X-Forwarded-For is ignored.
    assert proxies.client("127.0.0.1", "127.0.0.9") == "127.0.0.1"
    assert proxies.client("127.0.0.1", "127.0.0.9", "wrong") == "127.0.0.1"
    # The balancer: the hop it appended is the caller; what the caller wrote is not.
    assert proxies.client("127.0.0.1", "127.0.0.9, 127.0.0.1", "s3cret") == "127.0.0.1"
    assert proxies.client("127.0.0.1", "8.8.8.8, 192.0.2.7", "s3cret") == "192.0.2.7"
    assert proxies.client("127.0.0.1", None, "s3cret") == "127.0.0.1"
    # A proxy in front of the balancer is followed only when trusted.
    fronted = TrustedProxies(["10.0.0.2/32"], secret="s3cret")
    assert fronted.client("127.0.0.1", "8.8.8.8, 192.0.2.7, 10.0.0.2", "s3cret") == "192.0.2.7"
