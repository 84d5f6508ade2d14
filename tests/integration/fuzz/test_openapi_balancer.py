"""Schemathesis against the load balancer's own OpenAPI (issue 17 item 4): its status, metrics
and admin API (with the admin token). No server error, every error in the one JSON shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis

from load_balancer.app import create_app
from load_balancer.settings import BalancerSettings
from tests.integration.fuzz.support import FUZZ, check_answer
from tests.support.live import live_server

SETTINGS = BalancerSettings(backends=["http://127.0.0.1:9"])  # a backend that never answers
SCHEMA = schemathesis.openapi.from_dict(create_app(SETTINGS).openapi())
ADMIN = {"authorization": f"Bearer {SETTINGS.admin_token}"}


@pytest.fixture(scope="module")
def balancer_url() -> Iterator[str]:
    with live_server(create_app(SETTINGS)) as url:
        yield url


@SCHEMA.parametrize()
@FUZZ
def test_no_request_gets_a_server_error(case: schemathesis.Case, balancer_url: str) -> None:
    check_answer(case, case.call(base_url=balancer_url, headers=ADMIN, timeout=10))
