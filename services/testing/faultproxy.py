"""A TCP fault proxy for tests and benchmarks: put it between two services, then break the link.

A :class:`FaultProxy` listens on a loopback port and forwards every connection to a target
(``host:port``). Its fault can be switched at run time:

- ``pass`` — forward bytes as they come;
- ``latency`` — hold every chunk ``latency_ms`` before forwarding it, in both directions;
- ``reset`` — reset every open connection (TCP RST) and every new one right after accepting it;
- ``hang`` — accept and never answer: open connections stop moving, new ones are accepted and
  never connected onwards; switching back to ``pass`` lets both flow again (as a paused peer
  that wakes up), nothing is dropped;
- ``cut`` — refuse: the port stops listening (a connect gets ``ECONNREFUSED``) and open
  connections are reset; ``pass`` listens again on the same port.

The proxy is asyncio and lives on one event loop. Synchronous tests use :class:`ProxyThread`,
which runs a loop in a daemon thread and hands out :class:`ProxyControl` handles::

    with ProxyThread() as proxies:
        mid = proxies.add("127.0.0.1", mid_port)      # listen on a free port
        ... point the execution instance at mid.url ...
        mid.set(Fault.CUT)                            # partition
        mid.set(Fault.LATENCY, latency_ms=200)
        mid.set(Fault.PASS)

Only the standard library is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import socket
import struct
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["Fault", "FaultProxy", "ProxyControl", "ProxyStats", "ProxyThread"]

_CHUNK = 64 * 1024
_T = TypeVar("_T")


class Fault(enum.StrEnum):
    """What the proxy does to the link."""

    PASS = "pass"  # noqa: S105 - a fault, not a password
    LATENCY = "latency"
    RESET = "reset"
    HANG = "hang"
    CUT = "cut"


@dataclass
class ProxyStats:
    """What went through the proxy since it started."""

    accepted: int = 0
    refused_upstream: int = 0
    reset: int = 0
    open: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close the connection with a TCP RST rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Link:
    """One client connection and its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.closed = False

    def reset(self) -> None:
        if self.closed:
            return
        self.closed = True
        _reset(self.client)
        if self.upstream is not None:
            _reset(self.upstream)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.client.close()
        if self.upstream is not None:
            self.upstream.close()


class FaultProxy:
    """Forward ``host:port`` → ``target_host:target_port``, with a fault that can be switched."""

    def __init__(
        self, target_host: str, target_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = port
        self.fault = Fault.PASS
        self.latency_ms = 0.0
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        """Return ``http://host:port`` of the proxy's listening side."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FaultProxy:
        """Listen (on a free port when none was given)."""
        await self._listen()
        return self

    async def close(self) -> None:
        """Stop listening and close every connection."""
        await self._unlisten()
        for link in list(self._links):
            link.close()
        self._flowing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def set(self, fault: Fault | str, *, latency_ms: float = 0.0) -> None:
        """Switch to ``fault`` (``latency_ms`` is the hold of the ``latency`` fault)."""
        fault = Fault(fault)
        self.fault = fault
        self.latency_ms = latency_ms if fault is Fault.LATENCY else 0.0
        if fault is Fault.HANG:
            self._flowing.clear()
        else:
            self._flowing.set()
        if fault in {Fault.RESET, Fault.CUT}:
            for link in list(self._links):
                link.reset()
                self.stats.reset += 1
        if fault is Fault.CUT:
            await self._unlisten()
        elif self._server is None:
            await self._listen()

    # -- listening ---------------------------------------------------------------------------

    async def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(512)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._server = await asyncio.start_server(self._accept, sock=sock)

    async def _unlisten(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            # Not wait_closed(): from Python 3.12 it also waits for every open connection.
            server.close()
            await asyncio.sleep(0)

    # -- one connection ----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        link = _Link(writer)
        self._links.add(link)
        self.stats.accepted += 1
        self.stats.open += 1
        try:
            await self._serve(link, reader)
        except (OSError, asyncio.IncompleteReadError):
            link.reset()
        finally:
            self.stats.open -= 1
            self._links.discard(link)
            link.close()
            self._tasks.discard(task)

    async def _serve(self, link: _Link, reader: asyncio.StreamReader) -> None:
        if self.fault in {Fault.RESET, Fault.CUT}:
            self.stats.reset += 1
            link.reset()
            return
        await self._flowing.wait()  # hang: accepted, never connected onwards
        if link.closed:
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.stats.refused_upstream += 1
            link.reset()
            return
        link.upstream = up_writer
        if link.closed:
            _reset(up_writer)
            return
        await asyncio.gather(
            self._pump(link, reader, up_writer, up=True),
            self._pump(link, up_reader, link.client, up=False),
        )

    async def _pump(
        self,
        link: _Link,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        *,
        up: bool,
    ) -> None:
        try:
            while not link.closed:
                data = await source.read(_CHUNK)
                if self.latency_ms > 0:
                    await asyncio.sleep(self.latency_ms / 1000)
                await self._flowing.wait()
                if link.closed:
                    return
                if not data:
                    # Half-close: pass the FIN on, keep the other direction open.
                    if sink.can_write_eof():
                        with contextlib.suppress(OSError):
                            sink.write_eof()
                    return
                if up:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            link.reset()


@dataclass
class ProxyControl:
    """A handle on one proxy of a :class:`ProxyThread`, usable from any thread."""

    proxy: FaultProxy
    runner: ProxyThread

    @property
    def port(self) -> int:
        """Return the port the proxy listens on."""
        return self.proxy.port

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:port``."""
        return self.proxy.url

    @property
    def fault(self) -> Fault:
        """Return the current fault."""
        return self.proxy.fault

    @property
    def stats(self) -> ProxyStats:
        """Return the proxy's counters (read without a lock: for reports, not for logic)."""
        return self.proxy.stats

    def set(self, fault: Fault | str, *, latency_ms: float = 0.0) -> None:
        """Switch the proxy to ``fault`` and wait until it applies."""
        self.runner.call(self.proxy.set(fault, latency_ms=latency_ms))


class ProxyThread:
    """An event loop in a daemon thread that runs any number of fault proxies."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fault-proxies", daemon=True
        )
        self._proxies: list[FaultProxy] = []

    def start(self) -> ProxyThread:
        """Start the loop's thread."""
        self._thread.start()
        return self

    def call(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 10.0) -> _T:
        """Run ``coroutine`` on the proxies' loop and return its result."""
        future: Future[_T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout)

    def add(
        self, target_host: str, target_port: int, *, port: int = 0, host: str = "127.0.0.1"
    ) -> ProxyControl:
        """Start a proxy to ``target_host:target_port`` (on ``host:port``, a free port if 0)."""
        proxy = FaultProxy(target_host, target_port, host=host, port=port)
        self.call(self._started(proxy))
        self._proxies.append(proxy)
        return ProxyControl(proxy, self)

    async def _started(self, proxy: FaultProxy) -> FaultProxy:
        # The Event of the proxy must be made on its loop (Python 3.11 binds it at first use).
        return await proxy.start()

    def stop(self) -> None:
        """Close every proxy and stop the loop."""
        if not self._thread.is_alive():
            return
        for proxy in self._proxies:
            with contextlib.suppress(Exception):
                self.call(proxy.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> ProxyThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
