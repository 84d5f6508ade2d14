"""Read a request body without ever holding more than the configured limit."""

from __future__ import annotations

from starlette.requests import Request

from services.errors import PayloadTooLarge
from services.safe_input import ascii_digits

__all__ = ["read_body"]


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """Return the body, or raise PayloadTooLarge as soon as it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and ascii_digits(declared) and int(declared) > max_bytes:
        raise PayloadTooLarge(
            f"the request body is {declared} bytes, above the limit of {max_bytes}"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the request body is above the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
