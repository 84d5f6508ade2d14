"""Schemathesis against mid-sourcing's OpenAPI (issue 17 item 4): whatever a caller sends that
the schema allows or not, no answer is a server error and every error has the one JSON shape."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis

from midsourcing.app import create_app
from midsourcing.settings import MidSettings
from tests.integration.fuzz.support import FUZZ, cap_waits, check_answer
from tests.support.live import live_server

# Only to read the schema: no lifespan runs, nothing is opened.
SCHEMA = schemathesis.openapi.from_dict(
    create_app(MidSettings(data_dir=Path(tempfile.gettempdir()) / "mcsim-schema")).openapi()
)


@pytest.fixture(scope="module")
def mid_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(create_app(MidSettings(data_dir=tmp_path_factory.mktemp("mid")))) as url:
        yield url


@SCHEMA.exclude(path_regex=".*/stream$").parametrize()
@FUZZ
def test_no_request_gets_a_server_error(case: schemathesis.Case, mid_url: str) -> None:
    cap_waits(case)
    check_answer(case, case.call(base_url=mid_url, timeout=10))
