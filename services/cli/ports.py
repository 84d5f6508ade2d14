"""Find the ports of a stack plan that are already taken, before anything starts."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from services.cli.plan import StackPlan

__all__ = ["BusyPort", "find_busy_ports", "port_problem"]


@dataclass(frozen=True)
class BusyPort:
    """A port a service wants but cannot have."""

    port: int
    label: str
    reason: str

    def describe(self, host: str) -> str:
        """Return one line naming the port, the service that wanted it and why it is busy."""
        return (
            f"port {self.port} on {host or '0.0.0.0'} (wanted by the {self.label}): {self.reason}"
        )


def port_problem(host: str, port: int) -> str | None:
    """Return why ``port`` cannot be bound on ``host``, or None when it is free."""
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        return f"cannot resolve host {host!r}: {exc.strerror}"
    for family, kind, proto, _name, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            # uvicorn sets SO_REUSEADDR too: a port in TIME_WAIT is free for it.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                return exc.strerror or str(exc)
    return None


def find_busy_ports(plan: StackPlan) -> list[BusyPort]:
    """Return every port of ``plan`` that is already in use (try to bind each one)."""
    busy = []
    for service in plan.services:
        reason = port_problem(plan.options.host, service.port)
        if reason is not None:
            busy.append(BusyPort(service.port, service.label, reason))
    return busy
