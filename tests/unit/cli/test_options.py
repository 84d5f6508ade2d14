"""``mcsim`` options and their environment variables, through typer's CliRunner."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from services.version import VERSION

ENV_NAMES = [
    "MCSIM_HOST",
    "MCSIM_LB_PORT",
    "MCSIM_CONTROL_PORT",
    "MCSIM_MID_PORT",
    "MCSIM_EXEC_BASE_PORT",
    "MCSIM_INSTANCES",
    "MCSIM_DATA_DIR",
    "MCSIM_DATABASE_URL",
    "MCSIM_SCHEMA_PREFIX",
    "MCSIM_DEMO",
    "MCSIM_ENVIRONMENT",
    "MCSIM_STARTUP_TIMEOUT",
    "MCSIM_STOP_TIMEOUT",
    "MCSIM_LOG_LEVEL",
    "MCSIM_LOG_FORMAT",
]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Return a runner whose environment has none of the developer's MCSIM_ variables."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    return CliRunner()


def dry_run(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = runner.invoke(app, ["up", "--dry-run", *args], env=env)
    assert result.exit_code == 0, result.output
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def by_name(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {service["name"]: service for service in plan["services"]}


def test_help_documents_every_environment_variable(runner: CliRunner) -> None:
    result = runner.invoke(app, ["up", "--help"])
    assert result.exit_code == 0
    for name in ENV_NAMES:
        assert name in result.output


def test_environment_variables_set_the_options(runner: CliRunner, tmp_path: Path) -> None:
    env = {
        "MCSIM_HOST": "0.0.0.0",
        "MCSIM_LB_PORT": "9180",
        "MCSIM_CONTROL_PORT": "9170",
        "MCSIM_MID_PORT": "9190",
        "MCSIM_EXEC_BASE_PORT": "9200",
        "MCSIM_INSTANCES": "3",
        "MCSIM_DATA_DIR": str(tmp_path / "from-env"),
        "MCSIM_DATABASE_URL": "postgresql://u@db/mc",
        "MCSIM_SCHEMA_PREFIX": "envp",
        "MCSIM_DEMO": "false",
        "MCSIM_ENVIRONMENT": "production",
        "MCSIM_LOG_LEVEL": "warning",
        "MCSIM_LOG_FORMAT": "text",
    }
    plan = dry_run(runner, env=env)
    services = by_name(plan)

    assert plan["data_dir"] == str(tmp_path / "from-env")
    assert [(s["name"], s["port"]) for s in plan["services"]] == [
        ("load_balancer", 9180),
        ("execution-1", 9200),
        ("execution-2", 9201),
        ("execution-3", 9202),
        ("control", 9170),
        ("midsourcing", 9190),
    ]
    control = services["control"]["env"]
    assert control["MCSIM_CONTROL_HOST"] == "0.0.0.0"
    assert control["MCSIM_CONTROL_DEMO"] == "false"
    assert control["MCSIM_CONTROL_ENVIRONMENT"] == "production"
    assert control["MCSIM_CONTROL_LOG_LEVEL"] == "WARNING"
    assert control["MCSIM_CONTROL_LOG_FORMAT"] == "text"
    assert control["MCSIM_CONTROL_DATABASE_SCHEMA"] == "envp_control"
    assert services["execution-3"]["env"]["MCSIM_EXEC_PUBLIC_URL"] == "http://127.0.0.1:9180"


def test_command_line_options_win_over_environment_variables(
    runner: CliRunner, tmp_path: Path
) -> None:
    plan = dry_run(
        runner,
        "--lb-port",
        "9300",
        "--demo",
        "--data-dir",
        str(tmp_path),
        env={"MCSIM_LB_PORT": "9180", "MCSIM_DEMO": "false"},
    )
    services = by_name(plan)
    assert services["load_balancer"]["port"] == 9300
    assert services["control"]["env"]["MCSIM_CONTROL_DEMO"] == "true"


def test_defaults_are_the_documented_ones(runner: CliRunner, tmp_path: Path) -> None:
    plan = dry_run(runner, "--data-dir", str(tmp_path))
    services = by_name(plan)
    assert [s["port"] for s in plan["services"]] == [8080, 8081, 8082, 8070, 8090]
    assert services["control"]["env"]["MCSIM_CONTROL_DEMO"] == "true"
    assert services["control"]["env"]["MCSIM_CONTROL_ENVIRONMENT"] == "development"
    assert services["midsourcing"]["env"]["MCSIM_MID_HOST"] == "127.0.0.1"


def test_default_data_dir_is_dot_mcsim_in_the_working_directory(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = dry_run(runner)
    assert plan["data_dir"] == str(tmp_path.resolve() / ".mcsim")


def test_bad_values_are_refused_before_anything_starts(runner: CliRunner, tmp_path: Path) -> None:
    too_many = runner.invoke(
        app, ["up", "--data-dir", str(tmp_path)], env={"MCSIM_INSTANCES": "300"}
    )
    assert too_many.exit_code == 2
    assert "MCSIM_INSTANCES" in too_many.output
    assert "255" in too_many.output

    clash = runner.invoke(
        app,
        ["up", "--data-dir", str(tmp_path)],
        env={"MCSIM_CONTROL_PORT": "9400", "MCSIM_MID_PORT": "9400"},
    )
    assert clash.exit_code == 2
    assert "port 9400 is wanted by both the control instance" in clash.output

    sqlite = runner.invoke(
        app, ["up", "--data-dir", str(tmp_path), "--database-url", "sqlite:///x.db"]
    )
    assert sqlite.exit_code == 2
    assert "must be a PostgreSQL URL" in sqlite.output
    assert not (tmp_path / "logs").exists()


def test_a_busy_port_from_the_environment_is_reported_and_nothing_starts(
    runner: CliRunner, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(
            app, ["up", "--data-dir", str(tmp_path)], env={"MCSIM_LB_PORT": str(port)}
        )
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 (wanted by the load balancer)" in result.output
    assert "Nothing was started" in result.output
    assert not (tmp_path / "logs").exists()
    assert not (tmp_path / "stack.json").exists()


def test_version_prints_the_installed_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"mcsim {VERSION}"
