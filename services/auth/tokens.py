"""Random tokens in Campaign's formats, and how they are stored and compared."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

__all__ = [
    "new_security_token",
    "new_session_token",
    "same_secret",
    "token_digest",
]


def new_session_token() -> str:
    """Return a session token as Campaign writes it: ``___`` and a random UUID (122 bits)."""
    return "___" + str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)).upper()


def new_security_token() -> str:
    """Return a security token: ``@`` and 256 random bits."""
    return "@" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Return the SHA-256 of ``token``: tokens are stored by digest, never in clear."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())
