"""The errors of the token endpoint, in OAuth 2.0's shape (RFC 6749 §5.2), as Adobe IMS answers."""

from __future__ import annotations

from typing import ClassVar

from services.errors import InvalidRequest

__all__ = [
    "InvalidClient",
    "InvalidScope",
    "TokenRequestError",
    "TooManyAttempts",
    "UnsupportedGrantType",
]


class TokenRequestError(InvalidRequest):
    """A refused token request: ``{"error": code, "error_description": text}``, HTTP 400."""

    oauth_error: ClassVar[str] = "invalid_request"

    def to_json(self) -> dict[str, object]:
        """Return the OAuth error body (what OAuth client libraries read), with mcsim's detail."""
        body: dict[str, object] = {"error": self.oauth_error, "error_description": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


class InvalidClient(TokenRequestError):
    """Unknown client id or wrong client secret."""

    oauth_error = "invalid_client"
    error = "invalid_client"


class InvalidScope(TokenRequestError):
    """No scope, or a scope the technical account does not have."""

    oauth_error = "invalid_scope"
    error = "invalid_scope"


class UnsupportedGrantType(TokenRequestError):
    """A grant other than ``client_credentials``."""

    oauth_error = "unsupported_grant_type"
    error = "unsupported_grant_type"


class TooManyAttempts(TokenRequestError):
    """Too many wrong secrets for one client from one address (HTTP 429) *(emulator choice)*."""

    status_code = 429
    oauth_error = "too_many_requests"
    error = "rate_limited"
