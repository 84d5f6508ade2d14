"""The error tree: status codes, SOAP fault codes and the one JSON shape."""

from __future__ import annotations

import pytest

from services import errors


@pytest.mark.parametrize(
    ("error_class", "status", "fault"),
    [
        (errors.InvalidRequest, 400, "SOAP-ENV:Client"),
        (errors.MalformedXml, 400, "SOAP-ENV:Client"),
        (errors.HostileXml, 400, "SOAP-ENV:Client"),
        (errors.UnknownMethod, 400, "SOAP-ENV:Client"),
        (errors.AuthenticationFailed, 401, "SOAP-ENV:Client"),
        (errors.SessionExpired, 401, "SOAP-ENV:Client"),
        (errors.Forbidden, 403, "SOAP-ENV:Client"),
        (errors.NotFound, 404, "SOAP-ENV:Client"),
        (errors.PayloadTooLarge, 413, "SOAP-ENV:Client"),
        (errors.RateLimited, 429, "SOAP-ENV:Client"),
        (errors.Overloaded, 503, "SOAP-ENV:Server"),
        (errors.UpstreamUnavailable, 502, "SOAP-ENV:Server"),
        (errors.UpstreamTimeout, 504, "SOAP-ENV:Server"),
    ],
)
def test_each_error_carries_its_status_and_fault_code(
    error_class: type[errors.McsimError], status: int, fault: str
) -> None:
    error = error_class("boom")
    assert isinstance(error, errors.McsimError)
    assert error.status_code == status
    assert error.fault_code == fault


def test_campaign_codes_lead_the_fault_string_once() -> None:
    expired = errors.SessionExpired("Session has expired or is invalid. Please reconnect.")
    assert expired.fault_string == "XSV-350008 Session has expired or is invalid. Please reconnect."
    already = errors.UnknownMethod("SOP-330006 The method 'X' is not defined.")
    assert already.fault_string == "SOP-330006 The method 'X' is not defined."
    assert errors.InvalidRequest("plain").fault_string == "plain"


def test_json_body_has_one_shape_and_omits_empty_parts() -> None:
    assert errors.NotFound("no such event").to_json() == {
        "error": "not_found",
        "message": "no such event",
    }
    full = errors.SessionExpired("expired", detail="use login/password", field="sessiontoken")
    assert full.to_json() == {
        "error": "session_expired",
        "message": "expired",
        "code": "XSV-350008",
        "detail": "use login/password",
        "field": "sessiontoken",
    }
