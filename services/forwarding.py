"""The real caller behind a proxy: X-Forwarded-For is believed only from the load balancer.

On one host every process connects from 127.0.0.1, so an address cannot tell the load balancer
from any other local caller (security review F2). The balancer therefore proves itself with a
shared secret, :data:`PROXY_SECRET_HEADER`, that ``mcsim up`` generates for each stack and
gives to the balancer and to every execution instance:

* With a secret configured, X-Forwarded-For is believed only on a request that carries it. The
  last hop — the one the balancer appended, its own peer — is the caller; hops further left
  were written by that caller and are followed only through ``trusted`` networks (proxies in
  front of the balancer). Without the header the peer is the caller.
* Without a secret, X-Forwarded-For is believed from peers in the ``trusted`` networks
  (address-based). That is safe only where those addresses belong to the proxies alone, such
  as a fixed container address of the balancer; never list a loopback network there, since any
  local program connects from it. The default trusts nobody.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence

__all__ = ["PROXY_SECRET_HEADER", "TrustedProxies"]

#: The request header through which the load balancer proves itself to the execution instances.
PROXY_SECRET_HEADER = "x-mcsim-proxy-secret"  # noqa: S105 - a header name


class TrustedProxies:
    """Resolve a request's client address through the proxies it came through."""

    def __init__(self, networks: Sequence[str], *, secret: str | None = None) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]
        self._secret = secret.encode() if secret else None

    def trusts(self, address: str) -> bool:
        """Return whether ``address`` is in one of the trusted networks."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.networks)

    def from_balancer(self, proof: str | None) -> bool:
        """Return whether ``proof`` (the secret header's value) is the balancer's secret."""
        if self._secret is None or proof is None:
            return False
        return hmac.compare_digest(proof.encode(errors="surrogateescape"), self._secret)

    def client(
        self, peer: str | None, forwarded_for: str | None, proof: str | None = None
    ) -> str | None:
        """Return the caller: the first address, from the right, not written by a proxy."""
        if peer is None or not forwarded_for:
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if not hops:
            return peer
        if self._secret is not None:
            if not self.from_balancer(proof):
                return peer
            hops, peer = hops[:-1], hops[-1]  # the balancer's own peer: believed as it is
        if not self.trusts(peer):
            return peer
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else peer
