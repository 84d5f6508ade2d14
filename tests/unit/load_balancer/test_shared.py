"""The shared backend table and counters: one truth for every worker, across processes too."""

from __future__ import annotations

import os

import pytest

from load_balancer.shared import (
    BUCKETS_MS,
    DOWN,
    IN_FLIGHT,
    MAX_BACKENDS,
    REQUESTS,
    UNKNOWN,
    UP,
    SharedState,
    TableFull,
    bucket_offset,
    percentile,
)


def test_adding_and_removing_backends_changes_the_generation_and_keeps_slot_order() -> None:
    state = SharedState.create(2)
    g0 = state.generation
    a = state.add("http://127.0.0.1:8081")
    b = state.add("http://127.0.0.1:8082")
    assert state.generation == g0 + 2
    assert [s.url for s in state.slots()] == ["http://127.0.0.1:8081", "http://127.0.0.1:8082"]
    assert (a.state, a.instance_id) == (UNKNOWN, None)

    with pytest.raises(ValueError, match="already a backend"):
        state.add("http://127.0.0.1:8081")
    assert state.remove("http://127.0.0.1:8081")
    assert not state.remove("http://127.0.0.1:8081")
    assert [s.url for s in state.slots()] == ["http://127.0.0.1:8082"]
    # A freed slot is reused by the next backend, with a new serial and fresh counters.
    state.ints[state.counter_base(1, a.index) + REQUESTS] = 41
    c = state.add("http://127.0.0.1:8083")
    assert c.index == a.index
    assert c.serial not in {a.serial, b.serial}
    assert state.backend_counters(c.index).requests == 0


def test_stale_updates_to_a_replaced_backend_are_ignored() -> None:
    state = SharedState.create()
    old = state.add("http://127.0.0.1:8081")
    state.remove(old.url)
    new = state.add("http://127.0.0.1:9999")
    assert not state.eject(old.index, old.serial, "late failure")
    state.set_instance(old.index, old.serial, 7)
    assert state.slot(new.index).state == UNKNOWN
    assert state.slot(new.index).instance_id is None


def test_states_checks_and_instance_ids() -> None:
    state = SharedState.create()
    slot = state.add("http://127.0.0.1:8081")
    assert state.set_state(slot.index, slot.serial, UP)
    assert not state.set_state(slot.index, slot.serial, UP)
    assert state.record_check(slot.index, slot.serial, ok=True) == (1, 0)
    assert state.record_check(slot.index, slot.serial, ok=True) == (2, 0)
    assert state.record_check(slot.index, slot.serial, ok=False) == (0, 1)
    assert state.eject(slot.index, slot.serial, "ConnectError: refused")
    current = state.slot(slot.index)
    assert (current.state, current.error, current.oks) == (DOWN, "ConnectError: refused", 0)
    generation = state.generation
    state.set_instance(slot.index, slot.serial, 3)
    assert state.slot(slot.index).instance_id == 3
    assert state.generation == generation + 1
    state.set_instance(slot.index, slot.serial, 3)
    assert state.generation == generation + 1


def test_the_table_has_a_size_and_urls_a_length() -> None:
    state = SharedState.create()
    for port in range(MAX_BACKENDS):
        state.add(f"http://127.0.0.1:{10000 + port}")
    with pytest.raises(TableFull):
        state.add("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="at most"):
        SharedState.create().add("http://" + "a" * 300 + ":1")


def test_counters_add_up_over_workers_and_a_restarted_worker_has_nothing_in_flight() -> None:
    state = SharedState.create(3)
    slot = state.add("http://127.0.0.1:8081")
    for worker, (requests, in_flight) in enumerate([(5, 1), (7, 2), (1, 0)]):
        base = state.counter_base(worker, slot.index)
        state.ints[base + REQUESTS] = requests
        state.ints[base + IN_FLIGHT] = in_flight
    totals = state.backend_counters(slot.index)
    assert (totals.requests, totals.in_flight) == (13, 3)
    state.reset_worker(1, pid=4242)
    assert state.backend_counters(slot.index).in_flight == 1
    assert state.worker_counters()[1].pid == 4242


def test_a_forked_worker_writes_into_the_same_memory() -> None:
    state = SharedState.create(2, between_processes=True)
    slot = state.add("http://127.0.0.1:8081")
    pid = os.fork()
    if pid == 0:  # the child: eject the backend, count requests and add a backend
        try:
            state.eject(slot.index, slot.serial, "seen by the child")
            state.ints[state.counter_base(1, slot.index) + REQUESTS] += 9
            state.add("http://127.0.0.1:8082")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert state.slot(slot.index).state == DOWN
    assert state.slot(slot.index).error == "seen by the child"
    assert state.backend_counters(slot.index).requests == 9
    assert [s.url for s in state.slots()][-1] == "http://127.0.0.1:8082"


def test_latency_buckets_and_percentiles() -> None:
    counts = [0] * len(BUCKETS_MS)
    for latency in [0.5] * 50 + [3.0] * 40 + [40.0] * 9 + [99_999.0]:
        counts[bucket_offset(latency) - bucket_offset(0)] += 1
    buckets = tuple(counts)
    assert buckets[0] == 50  # ≤ 1 ms
    assert buckets[BUCKETS_MS.index(5)] == 40
    assert buckets[-1] == 1  # +Inf
    assert percentile(buckets, 0.5) == pytest.approx(1.0)
    p90 = percentile(buckets, 0.90)
    assert p90 is not None and 2 <= p90 <= 5
    p99 = percentile(buckets, 0.99)
    assert p99 is not None and 20 <= p99 <= 50
    assert percentile(buckets, 1.0) == 30000.0  # the +Inf bucket reports its lower bound
    assert percentile(tuple([0] * len(BUCKETS_MS)), 0.5) is None
