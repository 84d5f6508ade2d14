"""F8: which requests the SOAP routers read, and which they refuse as cross-site."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.errors import Forbidden, UnsupportedMediaType
from services.soap.envelope import render_fault
from services.soap.router import refuse_cross_site

#: The types a page may post cross-site without a CORS preflight (Fetch standard).
SIMPLE_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]


@given(
    media=st.sampled_from(SIMPLE_TYPES),
    upper=st.booleans(),
    params=st.sampled_from(["", ";charset=UTF-8", "; boundary=----x", ";action=nms:rtEvent"]),
)
def test_every_simple_type_is_refused_whatever_its_case_and_parameters(
    media: str, upper: bool, params: str
) -> None:
    content_type = (media.upper() if upper else media) + params
    with pytest.raises(UnsupportedMediaType):
        refuse_cross_site({}, content_type=content_type)


@given(st.text(max_size=40))
def test_a_content_type_is_accepted_exactly_when_its_media_type_is_soap(content_type: str) -> None:
    media = content_type.partition(";")[0].strip().lower()
    if media in ("text/xml", "application/soap+xml"):
        refuse_cross_site({}, content_type=content_type)
    else:
        with pytest.raises(UnsupportedMediaType):
            refuse_cross_site({}, content_type=content_type)


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example", "host": "127.0.0.1:8080"},
        {"origin": "null", "host": "127.0.0.1:8080"},
        {"origin": "http://127.0.0.1:8081", "host": "127.0.0.1:8080"},
        {"origin": "http://127.0.0.1:8080.evil.example", "host": "127.0.0.1:8080"},
        {"sec-fetch-site": "cross-site", "host": "127.0.0.1:8080"},
        {"sec-fetch-site": "Cross-Site"},
    ],
)
def test_another_site_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(Forbidden):
        refuse_cross_site(headers, content_type="text/xml")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"host": "127.0.0.1:8080", "user-agent": "zeep"},
        {"origin": "http://127.0.0.1:8080", "host": "127.0.0.1:8080"},
        {"origin": "HTTP://LocalHost:8080", "host": "localhost:8080"},
        # Behind the load balancer: Host is the backend, X-Forwarded-Host the site.
        {
            "origin": "http://localhost:8080",
            "host": "exec1:8081",
            "x-forwarded-host": "localhost:8080",
        },
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
    ],
)
def test_this_site_and_non_browser_clients_are_accepted(headers: dict[str, str]) -> None:
    refuse_cross_site(headers, content_type="application/soap+xml;charset=UTF-8")


def test_no_content_type_is_read_when_no_other_site_is_named() -> None:
    refuse_cross_site({}, content_type=None)
    with pytest.raises(Forbidden):
        refuse_cross_site({"origin": "https://evil.example"}, content_type=None)


def test_the_refusals_are_faults_with_their_own_http_status() -> None:
    refused = render_fault(UnsupportedMediaType("not SOAP", detail="Content-Type: text/plain"))
    assert refused.status_code == 415
    assert b"<faultcode>SOAP-ENV:Client</faultcode>" in refused.body
    assert render_fault(Forbidden("Cross-site requests are refused.")).status_code == 403
