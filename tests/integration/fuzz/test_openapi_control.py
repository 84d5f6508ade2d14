"""Schemathesis against the control instance's API (issue 17 item 4), as the admin: no server
error (a 502/503 names the execution instance or mid-sourcing that cannot be reached), every
error in the one JSON shape."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis

from control_instance.app import create_app
from control_instance.settings import ControlSettings
from tests.integration.fuzz.support import FUZZ, cap_waits, check_answer
from tests.support.live import live_server

SCHEMA = schemathesis.openapi.from_dict(
    create_app(ControlSettings(data_dir=Path(tempfile.gettempdir()) / "mcsim-schema")).openapi()
)


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    settings = ControlSettings(
        data_dir=tmp_path_factory.mktemp("control"),
        midsourcing_url="http://127.0.0.1:9",  # nothing answers there
        instance_timeout_seconds=1,
    )
    with live_server(create_app(settings)) as url:
        answer = httpx.post(
            f"{url}/api/v1/auth/login", json={"login": "admin", "password": "admin"}, timeout=10
        )
        yield url, {"authorization": f"Bearer {answer.json()['access_token']}"}


# Logging out or changing operators would only lock the next cases out: they are fuzzed all
# the same, last (the order of the schema), and a 401 is a fine answer.
@SCHEMA.parametrize()
@FUZZ
def test_no_request_gets_a_server_error(
    case: schemathesis.Case, control: tuple[str, dict[str, str]]
) -> None:
    url, admin = control
    cap_waits(case)
    check_answer(case, case.call(base_url=url, headers=admin, timeout=15))
