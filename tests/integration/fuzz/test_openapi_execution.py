"""Schemathesis against the execution instance's OpenAPI (issue 17 item 4): the REST
transactional API with a technical token, the control plane with its account. No server error,
every error in the one JSON shape, and a refused event is never stored."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from sqlalchemy import func, select

from execution_instance.app import create_app
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from services.dev_credentials import CONTROL_PLANE, TECHNICAL_TOKEN
from tests.integration.fuzz.support import FUZZ, cap_waits, check_answer
from tests.support.live import live_server

SCHEMA = schemathesis.openapi.from_dict(
    create_app(ExecutionSettings(data_dir=Path(tempfile.gettempdir()) / "mcsim-schema")).openapi()
)
CONTROL = {"authorization": httpx.BasicAuth(*CONTROL_PLANE)._auth_header}
TOKEN = {"authorization": f"Bearer {TECHNICAL_TOKEN}"}


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    settings = ExecutionSettings(
        data_dir=tmp_path_factory.mktemp("exec"), workers=0, event_types=["PASSWORD_RESET"]
    )
    app = create_app(settings)
    with live_server(app) as url:
        yield app, url


def _events(app: FastAPI) -> int:
    with app.state.db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Event)).scalar_one())


@SCHEMA.parametrize()
@FUZZ
def test_no_request_gets_a_server_error_nor_stores_a_refused_event(
    case: schemathesis.Case, instance: tuple[FastAPI, str]
) -> None:
    app, url = instance
    cap_waits(case)
    if case.path.startswith("/{org}/"):  # make the event type one the instance knows, often
        case.path_parameters = {**(case.path_parameters or {}), "event_id": "EVTPASSWORD_RESET"}
    headers = CONTROL if case.path.startswith("/_mc/") else TOKEN
    before = _events(app)
    answer = case.call(base_url=url, headers=headers, timeout=10)
    check_answer(case, answer)
    if case.method == "POST" and case.path.startswith("/{org}/") and answer.status_code >= 400:
        assert _events(app) == before, case.as_curl_command()
