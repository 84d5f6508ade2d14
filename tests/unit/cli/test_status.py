"""``mcsim status`` against real servers on loopback ports."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from typer.testing import CliRunner

from midsourcing.app import create_app
from midsourcing.settings import MidSettings
from services.cli.main import app
from services.cli.state import ServiceState, StackState, read_state, remove_state, write_state
from services.version import VERSION
from tests.support.stack import free_ports


@contextmanager
def serve(application: FastAPI, port: int) -> Iterator[str]:
    """Serve ``application`` with uvicorn on 127.0.0.1:``port`` in a thread."""
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        ws="none",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in time"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def mid_url(tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a real mid-sourcing server (SQLite in tmp_path)."""
    port = free_ports(instances=1).mid
    settings = MidSettings(port=port, data_dir=tmp_path / "mid-data")
    with serve(create_app(settings), port) as url:
        yield url


def sick_app() -> FastAPI:
    """Return an app whose health check says its database is unreachable."""
    sick = FastAPI()

    @sick.get("/health")
    async def health() -> JSONResponse:
        body = {"status": "degraded", "service": "execution", "database": "unreachable"}
        return JSONResponse(body, status_code=503)

    return sick


def state_with(data_dir: Path, *services: tuple[str, str, str]) -> None:
    entries = [
        ServiceState(
            name=name, label=label, service=name, url=url, port=0, pid=None, log_file="x.log"
        )
        for name, label, url in services
    ]
    write_state(
        data_dir / "stack.json",
        StackState(
            supervisor_pid=999_999_999,
            state="ready",
            data_dir=str(data_dir),
            log_dir=str(data_dir / "logs"),
            started_at="2026-01-01T00:00:00+00:00",
            services=entries,
        ),
    )


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "250")
    for name in ("MCSIM_HOST", "MCSIM_LB_PORT", "MCSIM_CONTROL_PORT", "MCSIM_MID_PORT"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_status_is_zero_when_every_service_answers(
    runner: CliRunner, mid_url: str, tmp_path: Path
) -> None:
    state_with(tmp_path, ("midsourcing", "mid-sourcing server", mid_url))

    result = runner.invoke(app, ["status", "--data-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "mid-sourcing server" in line)
    assert mid_url in row
    assert " ok " in row
    assert VERSION in row
    assert "all 1 services are up" in result.output
    # The supervisor pid in that file does not run.
    assert "not running" in result.output


def test_status_names_the_services_that_are_down(
    runner: CliRunner, mid_url: str, tmp_path: Path
) -> None:
    closed = free_ports(instances=1).lb
    port = free_ports(instances=1).control
    with serve(sick_app(), port) as sick_url:
        state_with(
            tmp_path,
            ("midsourcing", "mid-sourcing server", mid_url),
            ("execution-1", "execution instance 1", f"http://127.0.0.1:{closed}"),
            ("execution-2", "execution instance 2", sick_url),
        )
        result = runner.invoke(app, ["status", "--data-dir", str(tmp_path), "--timeout", "2"])

    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    one = next(line for line in lines if "execution instance 1" in line)
    two = next(line for line in lines if "execution instance 2" in line)
    assert "down: not reachable" in one
    assert "down: HTTP 503" in two
    assert "unreachable" in two
    assert "2 service(s) down: execution instance 1, execution instance 2" in result.output


def test_status_without_a_state_file_looks_at_the_port_options(
    runner: CliRunner, mid_url: str, tmp_path: Path
) -> None:
    ports = free_ports(instances=2)
    mid_port = mid_url.rsplit(":", 1)[1]
    args = ["status", "--data-dir", str(tmp_path / "none"), "--mid-port", mid_port]
    args += ["--lb-port", str(ports.lb), "--control-port", str(ports.control)]
    args += ["--exec-base-port", str(ports.exec_base)]

    result = runner.invoke(app, args)

    assert result.exit_code == 1, result.output
    assert "No " in result.output
    assert "stack.json" in result.output
    mid_row = next(line for line in result.output.splitlines() if "mid-sourcing" in line)
    assert " ok " in mid_row
    assert "4 service(s) down" in result.output


def test_state_file_round_trip_and_owner_only_removal(tmp_path: Path) -> None:
    state_with(tmp_path, ("control", "control instance", "http://127.0.0.1:1"))
    path = tmp_path / "stack.json"
    state = read_state(path)
    assert state is not None
    assert state.services[0].label == "control instance"

    remove_state(path, owner_pid=12345)
    assert path.exists()
    remove_state(path, owner_pid=999_999_999)
    assert not path.exists()
    assert read_state(path) is None
    path.write_text("{not json")
    assert read_state(path) is None
