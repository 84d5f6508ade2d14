"""The TCP fault proxy: each fault does what it says, and the link heals when it is lifted."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from services.testing.faultproxy import Fault, FaultProxy, ProxyThread


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture
async def proxy(echo: int) -> AsyncIterator[FaultProxy]:
    running = await FaultProxy("127.0.0.1", echo).start()
    yield running
    await running.close()


async def _round_trip(port: int, payload: bytes = b"ping") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(payload)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(payload)), 2.0)
    finally:
        writer.close()


async def test_pass_forwards_both_ways_and_counts_bytes(proxy: FaultProxy) -> None:
    assert await _round_trip(proxy.port, b"hello") == b"hello"
    big = bytes(range(256)) * 1024  # several chunks
    assert await _round_trip(proxy.port, big) == big
    assert proxy.stats.bytes_up == len(b"hello") + len(big)
    assert proxy.stats.accepted == 2


async def test_a_half_close_is_passed_on(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"last words")
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 2) == b"last words"  # echo closed after EOF
    writer.close()


async def test_latency_holds_each_direction(proxy: FaultProxy) -> None:
    await proxy.set(Fault.LATENCY, latency_ms=150)
    started = time.monotonic()
    assert await _round_trip(proxy.port) == b"ping"
    assert time.monotonic() - started >= 0.29  # 150 ms up, 150 ms down
    await proxy.set(Fault.PASS)
    started = time.monotonic()
    await _round_trip(proxy.port)
    assert time.monotonic() - started < 0.25


async def test_reset_breaks_open_and_new_connections(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"a")
    assert await reader.readexactly(1) == b"a"
    await proxy.set(Fault.RESET)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 2)
    writer.close()
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        await _round_trip(proxy.port)
    await proxy.set(Fault.PASS)
    assert await _round_trip(proxy.port) == b"ping"


async def test_hang_accepts_and_never_answers_until_lifted(proxy: FaultProxy) -> None:
    await proxy.set(Fault.HANG)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)  # accepted
    writer.write(b"anyone?")
    await writer.drain()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(7), 0.3)
    await proxy.set(Fault.PASS)
    assert await asyncio.wait_for(reader.readexactly(7), 2) == b"anyone?"  # nothing dropped
    writer.close()


async def test_hang_stalls_a_connection_that_was_open(proxy: FaultProxy) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"1")
    assert await reader.readexactly(1) == b"1"
    await proxy.set(Fault.HANG)
    writer.write(b"2")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.readexactly(1), 0.3)
    await proxy.set(Fault.PASS)
    assert await asyncio.wait_for(reader.readexactly(1), 2) == b"2"
    writer.close()


async def test_cut_refuses_and_pass_listens_again_on_the_same_port(proxy: FaultProxy) -> None:
    port = proxy.port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await proxy.set(Fault.CUT)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 2)
    writer.close()
    await proxy.set(Fault.PASS)
    assert proxy.port == port
    assert await _round_trip(port) == b"ping"


async def test_a_target_that_is_down_resets_the_client() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    proxy = await FaultProxy("127.0.0.1", dead).start()
    try:
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await _round_trip(proxy.port)
        assert proxy.stats.refused_upstream == 1
    finally:
        await proxy.close()


def test_the_thread_runs_proxies_for_synchronous_code() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with ProxyThread() as proxies:
        control = proxies.add("127.0.0.1", server.getsockname()[1])
        assert control.url == f"http://127.0.0.1:{control.port}"
        with socket.create_connection(("127.0.0.1", control.port), timeout=2) as client:
            accepted, _ = server.accept()
            client.sendall(b"sync")
            assert accepted.recv(4) == b"sync"
            accepted.close()
        control.set(Fault.CUT)
        assert control.fault is Fault.CUT
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", control.port), timeout=2)
    server.close()
