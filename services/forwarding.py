"""The real caller behind a proxy: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

__all__ = ["TrustedProxies"]


class TrustedProxies:
    """Resolve a request's client address through the proxies it came through."""

    def __init__(self, networks: Sequence[str]) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusts(self, address: str) -> bool:
        """Return whether ``address`` is one of the trusted proxies."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.networks)

    def client(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """Return the first address, from the right, that is not a trusted proxy."""
        if peer is None or not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer
