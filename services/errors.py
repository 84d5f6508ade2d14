"""The one error tree of mcsim.

Every error a user can cause is an :class:`McsimError`. The class carries the HTTP status,
the SOAP fault code and, where Campaign has one, the Campaign error code; each edge translates
it once: JSON on REST (:mod:`services.errors_http`), a SOAP Fault on the SOAP router
(:mod:`services.soap.envelope`), 502/504 on the load balancer.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AuthenticationFailed",
    "Conflict",
    "Forbidden",
    "HostileXml",
    "InvalidApiKey",
    "InvalidRequest",
    "MalformedXml",
    "McsimError",
    "MisdirectedRequest",
    "NoBackendAvailable",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "RateLimited",
    "SessionExpired",
    "UnknownMethod",
    "UnsupportedMediaType",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]

CLIENT = "SOAP-ENV:Client"
SERVER = "SOAP-ENV:Server"


class McsimError(Exception):
    """Base of every error mcsim reports to a caller."""

    status_code: ClassVar[int] = 500
    fault_code: ClassVar[str] = SERVER
    error: ClassVar[str] = "internal_error"
    campaign_code: ClassVar[str | None] = None

    def __init__(self, message: str, *, detail: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.field = field

    @property
    def fault_string(self) -> str:
        """Return the SOAP faultstring: the Campaign code first, where Campaign has one."""
        if self.campaign_code and not self.message.startswith(self.campaign_code):
            return f"{self.campaign_code} {self.message}"
        return self.message

    def to_json(self) -> dict[str, object]:
        """Return the JSON error body used on every REST edge."""
        body: dict[str, object] = {"error": self.error, "message": self.message}
        if self.campaign_code:
            body["code"] = self.campaign_code
        if self.detail:
            body["detail"] = self.detail
        if self.field:
            body["field"] = self.field
        return body


class InvalidRequest(McsimError):
    """The request is well formed but its content is wrong (missing or invalid field)."""

    status_code = 400
    fault_code = CLIENT
    error = "invalid_request"


class MalformedXml(InvalidRequest):
    """The body is not well-formed XML or not a SOAP envelope."""

    error = "malformed_xml"


class HostileXml(InvalidRequest):
    """The XML carries a DTD, entities, or nests deeper than allowed."""

    error = "forbidden_xml"


class UnknownMethod(InvalidRequest):
    """The SOAP method or service does not exist."""

    error = "unknown_method"
    campaign_code = "SOP-330006"


class AuthenticationFailed(McsimError):
    """Credentials are missing or wrong."""

    status_code = 401
    fault_code = CLIENT
    error = "unauthorized"


class SessionExpired(AuthenticationFailed):
    """A session token is unknown here, expired or was issued by another instance."""

    error = "session_expired"
    campaign_code = "XSV-350008"


class Forbidden(McsimError):
    """The caller is known but not allowed (security zone, role)."""

    status_code = 403
    fault_code = CLIENT
    error = "forbidden"


class InvalidApiKey(Forbidden):
    """A REST call with an IMS access token has no ``X-Api-Key``, or another client's.

    Worded as Adobe I/O's gateway answers (``403003 Api Key is invalid``; ``403000 Api Key is
    required`` when the header is missing).
    """

    error = "invalid_api_key"
    campaign_code = "403003"


class NotFound(McsimError):
    """The resource does not exist."""

    status_code = 404
    fault_code = CLIENT
    error = "not_found"


class Conflict(McsimError):
    """The request conflicts with the current state."""

    status_code = 409
    fault_code = CLIENT
    error = "conflict"


class PayloadTooLarge(McsimError):
    """The body or a part of it is larger than the configured limit."""

    status_code = 413
    fault_code = CLIENT
    error = "payload_too_large"


class UnsupportedMediaType(InvalidRequest):
    """The body is not sent in a media type the endpoint reads (SOAP: text/xml or soap+xml)."""

    status_code = 415
    error = "unsupported_media_type"


class MisdirectedRequest(McsimError):
    """The request names a host this service does not answer to (DNS rebinding defence)."""

    status_code = 421
    fault_code = CLIENT
    error = "misdirected_request"


class RateLimited(McsimError):
    """Too many requests (for example repeated failed logons)."""

    status_code = 429
    fault_code = CLIENT
    error = "rate_limited"


class Overloaded(McsimError):
    """The service refuses work to protect itself (queue above its hard limit)."""

    status_code = 503
    fault_code = SERVER
    error = "overloaded"


class UpstreamUnavailable(McsimError):
    """A service this one depends on cannot be reached."""

    status_code = 502
    fault_code = SERVER
    error = "bad_gateway"


class NoBackendAvailable(McsimError):
    """No healthy service is left to forward the request to (the load balancer's 503)."""

    status_code = 503
    fault_code = SERVER
    error = "service_unavailable"


class UpstreamTimeout(McsimError):
    """A service this one depends on did not answer in time."""

    status_code = 504
    fault_code = SERVER
    error = "gateway_timeout"
