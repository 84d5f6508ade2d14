"""Build :class:`httpx.Headers` from headers that are already normalized.

``httpx.Headers(list_of_pairs)`` re-checks and re-encodes every name and value: on the data path
that is several microseconds per request for headers that arrive as bytes, already split and
checked by llhttp (lower-case names on the ASGI side). This builds the same object from
``(raw name, lower-case name, value)`` triples — httpx's own storage — without that work.
``tests/unit/load_balancer/test_headers.py`` checks that the result is indistinguishable from
httpx's own construction, so an httpx upgrade that changes the storage fails there first.
"""

from __future__ import annotations

import httpx

__all__ = ["Triple", "normalized_headers"]

#: A header as httpx stores it: name as sent, lower-case name, value.
Triple = tuple[bytes, bytes, bytes]


def normalized_headers(triples: list[Triple]) -> httpx.Headers:
    """Return headers over ``triples`` (the list is used as is, not copied)."""
    headers = httpx.Headers.__new__(httpx.Headers)
    headers._list = triples
    headers._encoding = None
    return headers
