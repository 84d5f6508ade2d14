"""Security zones: which callers may use which authentication modes (campaign-facts §2.6)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from pydantic import BaseModel, Field, field_validator

__all__ = ["SecurityZone", "ZoneTable", "default_zones"]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SecurityZone(BaseModel):
    """A named list of networks and the weakened modes its callers may use."""

    name: str
    networks: list[str] = Field(min_length=1)
    allow_user_password: bool = False
    allow_empty_password: bool = False
    session_token_only: bool = False

    @field_validator("networks")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    def parsed(self) -> list[IPNetwork]:
        """Return the zone's networks."""
        return [ipaddress.ip_network(n, strict=False) for n in self.networks]


def default_zones() -> list[SecurityZone]:
    """Return the development zone: loopback callers may use every mode."""
    return [
        SecurityZone(
            name="loopback",
            networks=["127.0.0.0/8", "::1/128"],
            allow_user_password=True,
            allow_empty_password=True,
            session_token_only=True,
        )
    ]


class ZoneTable:
    """Find the zone of a caller: the most specific network that holds its address."""

    def __init__(self, zones: Sequence[SecurityZone]) -> None:
        self._entries = sorted(
            ((network, zone) for zone in zones for network in zone.parsed()),
            key=lambda entry: entry[0].prefixlen,
            reverse=True,
        )
        self._cache: dict[str, SecurityZone | None] = {}

    def match(self, address: str | None) -> SecurityZone | None:
        """Return the zone of ``address``, or None when it is in no zone (access denied)."""
        if not address:
            return None
        if address in self._cache:
            return self._cache[address]
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        found = next(
            (
                zone
                for network, zone in self._entries
                if ip.version == network.version and ip in network
            ),
            None,
        )
        if len(self._cache) < 4096:
            self._cache[address] = found
        return found
