"""Requests that must reach one instance: an event's status read, a retried idempotent POST."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.load_balancer.backends import EchoBackend, serve_asgi
from tests.integration.load_balancer.conftest import Balancer, running_balancer, wait_for

EVENT_PATH = "/acme/campaign/mcacme/EVTPASSWORD_RESET"


def pkey(instance_id: int, pk: int) -> int:
    return (instance_id << 56) | pk


@pytest.fixture
def cell() -> Iterator[tuple[Balancer, EchoBackend, EchoBackend, str, str]]:
    one, two = EchoBackend("one", 1), EchoBackend("two", 2)
    with (
        serve_asgi(one) as url_one,
        serve_asgi(two) as url_two,
        running_balancer([url_one, url_two]) as lb,
    ):
        yield lb, one, two, url_one, url_two


def test_an_event_status_read_goes_to_the_instance_named_by_its_pkey(
    cell: tuple[Balancer, EchoBackend, EchoBackend, str, str],
) -> None:
    lb, _one, _two, _url_one, _url_two = cell
    for instance_id in (2, 1, 2, 2, 1, 1, 2):
        answer = lb.client.get(f"{EVENT_PATH}/{pkey(instance_id, 77)}")
        assert answer.json()["instance_id"] == instance_id
    # The POST that creates events and other paths still go round-robin.
    posts = [lb.client.post(EVENT_PATH, json={}).json()["backend"] for _ in range(4)]
    assert sorted(posts) == ["one", "one", "two", "two"]
    # An instance no backend reports: round-robin (the backend then says where it is).
    unknown = [lb.client.get(f"{EVENT_PATH}/{pkey(9, 1)}").json()["backend"] for _ in range(4)]
    assert sorted(unknown) == ["one", "one", "two", "two"]


def test_a_status_read_for_a_down_instance_is_503_not_another_instances_404(
    cell: tuple[Balancer, EchoBackend, EchoBackend, str, str],
) -> None:
    lb, _one, two, _url_one, url_two = cell
    two.healthy = False
    wait_for(lambda: lb.backend(url_two)["state"] == "down")
    answer = lb.client.get(f"{EVENT_PATH}/{pkey(2, 5)}")
    assert answer.status_code == 503
    assert "execution instance 2" in answer.json()["message"]
    assert lb.client.get(f"{EVENT_PATH}/{pkey(1, 5)}").json()["backend"] == "one"


def test_an_idempotency_key_only_ever_reaches_its_own_backend(
    cell: tuple[Balancer, EchoBackend, EchoBackend, str, str],
) -> None:
    lb, one, two, _url_one, url_two = cell
    keys = [f"order-{n}" for n in range(16)]

    def owner(key: str) -> str:
        answer = lb.client.post(EVENT_PATH, json={}, headers={"Idempotency-Key": key})
        assert answer.status_code == 200
        backend: str = answer.json()["backend"]
        return backend

    first = {key: owner(key) for key in keys}
    for _ in range(3):
        assert {key: owner(key) for key in keys} == first
    # Keys spread over both backends (16 keys all on one would be a 1 in 32768 fluke).
    assert set(first.values()) == {"one", "two"}

    # While a key's backend is down its requests wait (503 + Retry-After): another instance
    # has never seen the key and would create a second event (issue 17).
    two.healthy = False
    wait_for(lambda: lb.backend(url_two)["state"] == "down")
    for key in keys:
        answer = lb.client.post(EVENT_PATH, json={}, headers={"Idempotency-Key": key})
        if first[key] == "one":
            assert answer.json()["backend"] == "one"
        else:
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "2"
            assert "owns this Idempotency-Key" in answer.json()["message"]

    two.healthy = True
    wait_for(lambda: lb.backend(url_two)["state"] == "up")
    assert {key: owner(key) for key in keys} == first
    assert one.count() > 0 and two.count() > 0
    assert one.count() + two.count() == 16 * 5 + sum(1 for k in keys if first[k] == "one")
