"""The stack plan: ports, URLs and the environment of every child, checked against the settings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from control_instance.settings import ControlSettings
from execution_instance.settings import ExecutionSettings
from load_balancer.settings import BalancerSettings
from midsourcing.settings import MidSettings
from services.cli.errors import PlanError
from services.cli.plan import ServicePlan, StackOptions, describe_plan, plan_stack, url_host
from services.settings import Environment, ServiceSettings

SETTINGS: dict[str, type[ServiceSettings]] = {
    "load_balancer": BalancerSettings,
    "execution_instance": ExecutionSettings,
    "control_instance": ControlSettings,
    "midsourcing": MidSettings,
}


def load_settings(service: ServicePlan, monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """Build the child's settings class from exactly the environment the plan gives it."""
    settings_class = SETTINGS[service.module]
    prefix = settings_class.model_config.get("env_prefix", "")
    with monkeypatch.context() as patch:
        for key in list(os.environ):
            if key.startswith("MCSIM_"):
                patch.delenv(key)
        for key, value in service.env.items():
            assert key.startswith(prefix), f"{key} does not carry {prefix}"
            patch.setenv(key, value)
        return settings_class()


def test_default_plan_uses_the_documented_ports_and_names(tmp_path: Path) -> None:
    plan = plan_stack(StackOptions(data_dir=tmp_path))

    assert [(s.name, s.port) for s in plan.services] == [
        ("load_balancer", 8080),
        ("execution-1", 8081),
        ("execution-2", 8082),
        ("control", 8070),
        ("midsourcing", 8090),
    ]
    assert [s.argv[1:] for s in plan.services] == [
        ("-m", "load_balancer"),
        ("-m", "execution_instance"),
        ("-m", "execution_instance"),
        ("-m", "control_instance"),
        ("-m", "midsourcing"),
    ]
    assert plan.soap_router_url == "http://127.0.0.1:8080/nl/jsp/soaprouter.jsp"
    assert plan.state_file == tmp_path / "stack.json"
    assert plan.get("execution-2").log_file == tmp_path / "logs" / "execution-2.log"


def test_execution_instance_k_listens_on_base_plus_k_minus_one_with_id_k(tmp_path: Path) -> None:
    plan = plan_stack(StackOptions(data_dir=tmp_path, exec_base_port=9100, instances=4))

    assert [(s.port, s.instance_id) for s in plan.executions] == [
        (9100, 1),
        (9101, 2),
        (9102, 3),
        (9103, 4),
    ]


def test_every_child_environment_is_understood_by_its_settings_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = StackOptions(
        host="127.0.0.1",
        lb_port=7000,
        control_port=7001,
        mid_port=7002,
        exec_base_port=7010,
        instances=3,
        data_dir=tmp_path,
        demo=False,
        environment=Environment.STAGE,
        log_level="debug",
    )
    plan = plan_stack(options)
    exec_urls = ["http://127.0.0.1:7010", "http://127.0.0.1:7011", "http://127.0.0.1:7012"]

    lb = load_settings(plan.get("load_balancer"), monkeypatch)
    assert isinstance(lb, BalancerSettings)
    assert (lb.port, lb.backends, lb.resolved_public_url) == (7000, exec_urls, plan.lb_url)

    for k, url in enumerate(exec_urls, start=1):
        execution = load_settings(plan.get(f"execution-{k}"), monkeypatch)
        assert isinstance(execution, ExecutionSettings)
        assert execution.instance_id == k
        assert execution.port == 7009 + k
        assert f"http://127.0.0.1:{execution.port}" == url
        # Behind the load balancer, an instance's public URL is the balancer's.
        assert execution.resolved_public_url == "http://127.0.0.1:7000"
        assert execution.midsourcing_url == "http://127.0.0.1:7002"
        assert execution.default_sqlite_name() == f"execution-{k}.sqlite3"

    control = load_settings(plan.get("control"), monkeypatch)
    assert isinstance(control, ControlSettings)
    assert control.execution_urls == exec_urls
    assert control.load_balancer_url == "http://127.0.0.1:7000"
    assert control.midsourcing_url == "http://127.0.0.1:7002"
    assert control.demo is False
    assert control.port == 7001

    mid = load_settings(plan.get("midsourcing"), monkeypatch)
    assert mid.port == 7002

    for service in plan.services:
        settings = load_settings(service, monkeypatch)
        assert settings.environment is Environment.STAGE
        assert settings.log_level == "DEBUG"
        assert settings.host == "127.0.0.1"
        assert settings.data_dir == tmp_path
        # Without --database-url every service keeps its settings' default: SQLite under DATA_DIR.
        assert settings.database_url is None
        assert settings.resolved_database_url().startswith(f"sqlite:///{tmp_path.resolve()}/")


def test_demo_is_passed_to_the_control_instance(tmp_path: Path) -> None:
    on = plan_stack(StackOptions(data_dir=tmp_path, demo=True)).get("control")
    off = plan_stack(StackOptions(data_dir=tmp_path, demo=False)).get("control")
    assert on.env["MCSIM_CONTROL_DEMO"] == "true"
    assert off.env["MCSIM_CONTROL_DEMO"] == "false"


def test_database_url_gives_each_service_its_own_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql://mcsim:secret@db:5432/mcsim"
    plan = plan_stack(
        StackOptions(data_dir=tmp_path, database_url=url, schema_prefix="ci7", instances=2)
    )

    schemas = {}
    for service in plan.services:
        settings = load_settings(service, monkeypatch)
        schemas[service.name] = settings.database_schema
        if service.name != "load_balancer":
            assert settings.resolved_database_url() == url
    assert schemas == {
        "load_balancer": None,
        "execution-1": "ci7_exec_1",
        "execution-2": "ci7_exec_2",
        "control": "ci7_control",
        "midsourcing": "ci7_mid",
    }
    assert not any("DATABASE" in key for key in plan.get("load_balancer").env)
    # The dry-run view never shows the password.
    shown = json.dumps(describe_plan(plan))
    assert "secret" not in shown
    assert "ci7_exec_2" in shown


def test_database_url_must_be_postgres(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="PostgreSQL"):
        plan_stack(StackOptions(data_dir=tmp_path, database_url="sqlite:///x.db"))
    with pytest.raises(PlanError, match="not a database URL"):
        plan_stack(StackOptions(data_dir=tmp_path, database_url="no url at all"))
    with pytest.raises(PlanError, match="schema prefix"):
        plan_stack(
            StackOptions(
                data_dir=tmp_path, database_url="postgresql://h/db", schema_prefix="Bad-Name"
            )
        )


def test_clashing_ports_are_refused_naming_both_services(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        plan_stack(StackOptions(data_dir=tmp_path, exec_base_port=8089, instances=3))
    assert "8090" in caught.value.message
    assert "mid-sourcing" in caught.value.message
    assert "execution instance 2" in caught.value.message

    with pytest.raises(PlanError, match="between 1 and 65535"):
        plan_stack(StackOptions(data_dir=tmp_path, exec_base_port=65535, instances=2))


@pytest.mark.parametrize("instances", [0, 256])
def test_instance_count_is_one_byte(tmp_path: Path, instances: int) -> None:
    with pytest.raises(PlanError, match="between 1 and 255"):
        plan_stack(StackOptions(data_dir=tmp_path, instances=instances))


def test_balancer_and_control_start_after_the_execution_instances(tmp_path: Path) -> None:
    stages = plan_stack(StackOptions(data_dir=tmp_path)).stages()
    assert [sorted(s.name for s in stage) for stage in stages] == [
        ["execution-1", "execution-2", "midsourcing"],
        ["control", "load_balancer"],
    ]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),
        ("::", "[::1]"),
        ("::1", "[::1]"),
        ("localhost", "localhost"),
    ],
)
def test_urls_name_a_reachable_host(host: str, expected: str) -> None:
    assert url_host(host) == expected
    plan = plan_stack(StackOptions(host=host))
    assert plan.lb_url == f"http://{expected}:8080"
    assert plan.get("load_balancer").env["MCSIM_LB_HOST"] == host


@pytest.mark.parametrize(
    ("cores", "instances", "expected"),
    [
        (2, 2, "1 web + 1 processing"),
        (2, 1, "1 web + 1 processing"),
        (16, 2, "4 web + 4 processing"),
        (16, 1, "8 web + 8 processing"),
    ],
)
def test_the_instances_share_the_cores_out_unless_the_processes_are_chosen(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cores: int,
    instances: int,
    expected: str,
) -> None:
    """Two instances on 16 cores run 8 processes each, not 16 (as many as the machine)."""
    monkeypatch.setattr("services.cli.plan.usable_cores", lambda: cores)
    plan = plan_stack(StackOptions(data_dir=tmp_path, instances=instances))
    for service in plan.executions:
        settings = load_settings(service, monkeypatch)
        assert isinstance(settings, ExecutionSettings)
        assert settings.layout().describe() == expected

    chosen = plan_stack(
        StackOptions(
            data_dir=tmp_path, instances=instances, web_processes=1, processing_processes=1
        )
    )
    assert all("MCSIM_EXEC_CORES" not in s.env for s in chosen.executions)
    settings = load_settings(chosen.executions[0], monkeypatch)
    assert isinstance(settings, ExecutionSettings)
    assert settings.layout().describe() == "1 web + 1 processing"
