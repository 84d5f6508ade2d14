"""Every service answers /health through its create_app factory, with its lifespan run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from control_instance.app import create_app as create_control
from control_instance.settings import ControlSettings
from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from load_balancer.app import create_app as create_balancer
from load_balancer.settings import BalancerSettings
from midsourcing.app import create_app as create_mid
from midsourcing.settings import MidSettings
from services.version import VERSION
from tests.conftest import DatabaseTarget
from tests.support.asgi import serve


@pytest.mark.postgres
async def test_execution_instance_reports_its_id_and_database(
    database_target: DatabaseTarget, tmp_path: Path
) -> None:
    settings = ExecutionSettings(
        instance_id=7,
        data_dir=tmp_path,
        database_url=database_target.url,
        database_schema=database_target.schema,
    )
    async with serve(create_execution(settings)) as client:
        answer = await client.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["service"] == "execution"
    assert body["instance_id"] == 7
    assert body["version"] == VERSION
    assert body["database"] == "ok"
    assert body["status"] == "ok"


async def test_ping_jsp_answers_ok_and_the_server_time(tmp_path: Path) -> None:
    async with serve(create_execution(ExecutionSettings(data_dir=tmp_path))) as client:
        answer = await client.get("/nl/jsp/ping.jsp")
    assert answer.status_code == 200
    lines = answer.text.splitlines()
    assert lines[0] == "OK"
    assert lines[1].endswith("Z") and len(lines[1]) == len("2026-11-28 10:00:00.000Z")


async def test_two_execution_instances_live_in_one_process(tmp_path: Path) -> None:
    one = create_execution(ExecutionSettings(instance_id=1, data_dir=tmp_path))
    two = create_execution(ExecutionSettings(instance_id=2, data_dir=tmp_path))
    async with serve(one) as first, serve(two) as second:
        ids = [(await c.get("/health")).json()["instance_id"] for c in (first, second)]
    assert ids == [1, 2]
    assert (tmp_path / "execution-1.sqlite3").exists()
    assert (tmp_path / "execution-2.sqlite3").exists()


@pytest.mark.parametrize(
    ("factory", "settings_class", "name"),
    [
        (create_control, ControlSettings, "control"),
        (create_mid, MidSettings, "midsourcing"),
    ],
)
async def test_control_and_midsourcing_report_health(
    factory: object, settings_class: type, name: str, tmp_path: Path
) -> None:
    app = factory(settings_class(data_dir=tmp_path))  # type: ignore[operator]
    async with serve(app) as client:
        body = (await client.get("/health")).json()
    assert body["service"] == name
    assert body["database"] == "ok"
    assert (tmp_path / f"{name}.sqlite3").exists()


async def test_health_turns_503_when_the_database_goes_away(tmp_path: Path) -> None:
    app = create_mid(MidSettings(data_dir=tmp_path))
    async with serve(app) as client:
        assert (await client.get("/health")).status_code == 200
        app.state.db.engine.dispose()
        app.state.db.engine.pool._creator = _refuse  # the database server vanished
        answer = await client.get("/health")
    assert answer.status_code == 503
    assert answer.json()["database"] == "unreachable"
    assert answer.json()["status"] == "degraded"


def _refuse() -> None:
    raise OSError("connection refused")


async def test_load_balancer_has_no_database_and_forwards_to_a_backend(tmp_path: Path) -> None:
    backend = create_execution(ExecutionSettings(data_dir=tmp_path))
    async with serve(backend) as backend_client:
        transport = httpx.ASGITransport(app=backend)
        balancer = create_balancer(
            BalancerSettings(backends=["http://exec-1"]),
            http_client=httpx.AsyncClient(transport=transport),
        )
        async with serve(balancer) as client:
            health = (await client.get("/health")).json()
            ping = await client.get("/nl/jsp/ping.jsp", headers={"x-request-id": "abc-123"})
        assert (await backend_client.get("/health")).status_code == 200
    assert health["service"] == "load_balancer"
    assert health["database"] == "none"
    assert ping.status_code == 200
    assert ping.text.startswith("OK\n")
    assert ping.headers["x-request-id"] == "abc-123"


async def test_load_balancer_answers_with_the_json_error_shape_when_no_backend_answers() -> None:
    balancer = create_balancer(BalancerSettings(backends=["http://127.0.0.1:1"]))
    async with serve(balancer) as client:
        answer = await client.get("/nl/jsp/ping.jsp")
    assert answer.status_code in {502, 503}  # refused at once, or already marked down
    assert set(answer.json()) >= {"error", "message"}


async def test_unknown_routes_get_the_json_error_shape(tmp_path: Path) -> None:
    async with serve(create_control(ControlSettings(data_dir=tmp_path))) as client:
        answer = await client.get("/no/such/page")
    assert answer.status_code == 404
    assert answer.json() == {"error": "not_found", "message": "Not Found"}
