"""Port checks before anything starts: real sockets on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.plan import StackOptions, plan_stack
from services.cli.ports import find_busy_ports, port_problem
from tests.support.stack import free_ports


@pytest.fixture
def listener() -> Iterator[int]:
    """Yield the port of a socket listening on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_listening_port_is_busy_and_a_closed_one_is_free(listener: int) -> None:
    assert port_problem("127.0.0.1", listener) is not None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    assert port_problem("127.0.0.1", closed) is None


def test_a_port_held_on_every_address_is_busy_on_loopback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_problem("127.0.0.1", port) is not None


def test_busy_ports_name_the_service_that_wanted_them(tmp_path: Path) -> None:
    ports = free_ports(instances=2)
    taken = ports.exec_base + 1
    plan = plan_stack(
        StackOptions(
            data_dir=tmp_path,
            lb_port=ports.lb,
            control_port=ports.control,
            mid_port=ports.mid,
            exec_base_port=ports.exec_base,
            instances=2,
        )
    )
    assert find_busy_ports(plan) == []

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", taken))
        sock.listen()
        busy = find_busy_ports(plan)

    assert [(b.port, b.label) for b in busy] == [(taken, "execution instance 2")]
    line = busy[0].describe("127.0.0.1")
    assert f"port {taken} on 127.0.0.1" in line
    assert "execution instance 2" in line
    assert "in use" in line
    assert find_busy_ports(plan) == []


def test_an_unknown_host_is_reported() -> None:
    problem = port_problem("no-such-host.invalid", 8080)
    assert problem is not None
    assert "cannot resolve host" in problem
