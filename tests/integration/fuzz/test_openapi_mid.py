"""Schemathesis against mid-sourcing's OpenAPI (issue 17 item 4): whatever a caller sends that
the schema allows or not, no answer is a server error and every error has the one JSON shape."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from midsourcing.app import create_app
from midsourcing.settings import MidSettings
from tests.support.live import live_server

# Only to read the schema: no lifespan runs, nothing is opened.
SCHEMA = schemathesis.openapi.from_dict(
    create_app(MidSettings(data_dir=Path(tempfile.gettempdir()) / "mcsim-schema")).openapi()
)


def cap_waits(case: schemathesis.Case) -> None:
    """A long-poll's ``wait`` (up to 25 s, tested on its own) is cut to a tenth of a second."""
    wait = (case.query or {}).get("wait")
    try:
        if wait is not None and float(wait) > 0.1:
            case.query["wait"] = 0.1
    except (TypeError, ValueError):
        pass  # not a number: refused at once


@pytest.fixture(scope="module")
def mid_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(create_app(MidSettings(data_dir=tmp_path_factory.mktemp("mid")))) as url:
        yield url


@SCHEMA.exclude(path_regex=".*/stream$").parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_gets_a_server_error(case: schemathesis.Case, mid_url: str) -> None:
    cap_waits(case)
    answer = case.call(base_url=mid_url, timeout=10)
    assert answer.status_code < 500, (case.as_curl_command(), answer.text[:500])
    kind = " ".join(answer.headers.get("content-type") or [])
    if answer.status_code >= 400 and kind.startswith("application/json"):
        body = answer.json()
        assert {"error", "message"} <= set(body), body
