"""Choosing a backend: round-robin, by instance id, by idempotency key."""

from __future__ import annotations

import collections

from load_balancer.balancer import Balancer
from load_balancer.shared import UP, SharedState

URLS = [f"http://127.0.0.1:{8081 + k}" for k in range(4)]


def table(count: int = 3) -> SharedState:
    state = SharedState.create(2)
    for instance_id, url in enumerate(URLS[:count], start=1):
        slot = state.add(url)
        state.set_state(slot.index, slot.serial, UP)
        state.set_instance(slot.index, slot.serial, instance_id)
    return state


def test_round_robin_visits_usable_backends_in_turn_and_skips_tried_ones() -> None:
    state = table()
    balancer = Balancer(state)
    picks = [balancer.round_robin() for _ in range(9)]
    assert collections.Counter(p.url for p in picks if p) == {url: 3 for url in URLS[:3]}
    assert all(picks[i] is not picks[i + 1] for i in range(8))
    backends = balancer.backends()
    balancer.eject(backends[1], "down")
    picks = [balancer.round_robin() for _ in range(6)]
    assert {p.url for p in picks if p} == {URLS[0], URLS[2]}
    assert balancer.round_robin(tried=[backends[0], backends[2]]) is None


def test_the_local_view_follows_the_shared_table() -> None:
    state = table(2)
    balancer = Balancer(state)
    assert [b.url for b in balancer.backends()] == URLS[:2]
    other = Balancer(state, worker=1)
    state.add(URLS[3])
    assert [b.url for b in balancer.backends()] == [URLS[0], URLS[1], URLS[3]]
    assert [b.url for b in other.backends()] == [URLS[0], URLS[1], URLS[3]]
    # Each worker counts into its own block.
    assert balancer.backends()[0].counters_at != other.backends()[0].counters_at


def test_an_instance_id_picks_its_replicas_only() -> None:
    state = table(3)
    replica = state.add(URLS[3])
    state.set_instance(replica.index, replica.serial, 2)
    balancer = Balancer(state)
    picks = {balancer.for_instance(2).url for _ in range(4)}  # type: ignore[union-attr]
    assert picks == {URLS[1], URLS[3]}
    assert balancer.for_instance(9) is None
    for backend in balancer.serving_instance(2):
        balancer.eject(backend, "gone")
    assert balancer.for_instance(2) is None


def test_a_key_hashes_to_the_same_backend_in_every_worker_and_never_moves_when_it_is_down() -> None:
    state = table(3)
    first, second = Balancer(state, worker=0), Balancer(state, worker=1)
    keys = [f"key-{n}".encode() for n in range(60)]
    owners = {k: first.for_key(k).url for k in keys}  # type: ignore[union-attr]
    assert owners == {k: second.for_key(k).url for k in keys}  # type: ignore[union-attr]
    assert set(owners.values()) == set(URLS[:3])

    # A key means one event: while its owner is down no other instance gets it (issue 17).
    down = first.backends()[0]
    first.eject(down, "down")
    for key in keys:
        backend = first.for_key(key)
        if owners[key] == down.url:
            assert backend is None
        else:
            assert backend is not None and backend.url == owners[key]
    # The same when the owner refused the connection in this very request.
    key = next(k for k in keys if owners[k] == URLS[1])
    owner = first.for_key(key)
    assert owner is not None and first.for_key(key, tried=[owner]) is None
    # A new backend takes some keys and leaves the others where they were.
    state.add(URLS[3])
    state.set_state(first.backends()[0].index, first.backends()[0].serial, UP)
    grown = {k: first.for_key(k).url for k in keys}  # type: ignore[union-attr]
    assert all(grown[k] in (owners[k], URLS[3]) for k in keys)
    assert URLS[3] in grown.values()


def test_a_down_owner_s_key_goes_to_a_replica_of_its_instance() -> None:
    """Replicas of one instance share its database, so they remember its keys."""
    state = table(3)
    state.add(URLS[3])
    balancer = Balancer(state)
    replica = balancer.backends()[3]
    keys = [f"key-{n}".encode() for n in range(80)]
    owned = [k for k in keys if balancer.for_key(k).url == URLS[1]]  # type: ignore[union-attr]
    assert owned
    state.set_instance(replica.index, replica.serial, 2)  # the replica reports instance 2
    state.set_state(replica.index, replica.serial, UP)
    balancer.eject(balancer.backends()[1], "down")
    assert {balancer.for_key(k).url for k in owned} == {URLS[3]}  # type: ignore[union-attr]
