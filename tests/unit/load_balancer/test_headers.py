"""Headers built from normalized triples behave exactly like httpx's own."""

from __future__ import annotations

import httpx

from services.raw_headers import normalized_headers

PAIRS = [
    (b"Content-Type", b"text/xml; charset=utf-8"),
    (b"set-cookie", b"a=1"),
    (b"Set-Cookie", b"b=2"),
    (b"x-request-id", b"lb0-1"),
]


def test_normalized_headers_are_indistinguishable_from_httpx_headers() -> None:
    ours = normalized_headers([(name, name.lower(), value) for name, value in PAIRS])
    theirs = httpx.Headers(PAIRS)
    assert ours == theirs
    assert ours.raw == theirs.raw
    assert ours.multi_items() == theirs.multi_items()
    assert ours.get_list("set-cookie") == ["a=1", "b=2"]
    assert ours["content-type"] == "text/xml; charset=utf-8"
    assert ours.encoding == theirs.encoding == "ascii"


def test_requests_and_responses_carry_them_unchanged() -> None:
    triples = [(name, name.lower(), value) for name, value in PAIRS]
    # With a stream given, httpx adds no header of its own (the balancer sets Host itself).
    request = httpx.Request(
        "POST",
        "http://backend:1/x",
        headers=normalized_headers(triples),
        stream=httpx.ByteStream(b""),
    )
    response = httpx.Response(200, headers=normalized_headers(triples))
    assert request.headers.raw == response.headers.raw == PAIRS
    assert response.headers.get("X-Request-Id") == "lb0-1"
