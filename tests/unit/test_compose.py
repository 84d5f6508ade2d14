"""docker-compose.yml and the Dockerfile agree with the code (no Docker engine runs here)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from control_instance.settings import ControlSettings
from execution_instance.settings import ExecutionSettings
from load_balancer.settings import BalancerSettings
from midsourcing.settings import MidSettings
from services.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[ServiceSettings]] = {
    "execution_instance": ExecutionSettings,
    "control_instance": ControlSettings,
    "midsourcing": MidSettings,
    "load_balancer": BalancerSettings,
}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _mcsim_services() -> dict[str, dict[str, Any]]:
    return {
        name: spec
        for name, spec in _compose()["services"].items()
        if spec.get("command", [None, None, None])[:2] == ["python", "-m"]
    }


def _settings_for(spec: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    settings_class = SETTINGS[spec["command"][2]]
    prefix = settings_class.model_config["env_prefix"]
    for name, value in spec["environment"].items():
        assert name.startswith(prefix), f"{name} does not belong to {prefix}*"
        field = name[len(prefix) :].lower()
        assert field in settings_class.model_fields, f"{name} is not a setting"
        monkeypatch.setenv(name, str(value))
    return settings_class()


def test_every_package_runs_in_the_topology() -> None:
    modules = sorted(spec["command"][2] for spec in _mcsim_services().values())
    assert modules == sorted(
        [
            "execution_instance",
            "execution_instance",
            "control_instance",
            "midsourcing",
            "load_balancer",
        ]
    )
    assert "postgres" in _compose()["services"]
    assert "pgdata" in _compose()["volumes"]


@pytest.mark.parametrize("service", sorted(_mcsim_services()))
def test_environment_variables_are_real_settings_with_valid_values(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _mcsim_services()[service]
    settings = _settings_for(spec, monkeypatch)
    assert settings.host == "0.0.0.0"
    assert spec["ports"] == [f"{settings.port}:{settings.port}"]
    health = " ".join(spec["healthcheck"]["test"])
    assert f"http://127.0.0.1:{settings.port}/health" in health
    if not isinstance(settings, BalancerSettings):
        assert settings.database_url is not None
        assert "@postgres:5432/" in settings.database_url
        assert settings.database_schema


def test_schemas_and_instance_ids_are_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    schemas: list[str] = []
    ids: list[int] = []
    for spec in _mcsim_services().values():
        with monkeypatch.context() as patch:
            settings = _settings_for(spec, patch)
        if settings.database_schema:
            schemas.append(settings.database_schema)
        if isinstance(settings, ExecutionSettings):
            ids.append(settings.instance_id)
    assert len(schemas) == len(set(schemas)) == 4
    assert sorted(ids) == [1, 2]


def test_dependencies_wait_for_health_and_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    services = _compose()["services"]
    for name, spec in services.items():
        assert "healthcheck" in spec, f"{name} has no health check"
        for dependency, condition in spec.get("depends_on", {}).items():
            assert dependency in services
            assert condition == {"condition": "service_healthy"}


def test_urls_between_services_name_real_services_and_ports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _mcsim_services()
    ports = {}
    for name, spec in services.items():
        with monkeypatch.context() as patch:
            ports[name] = _settings_for(spec, patch).port
    urls: list[str] = []
    for spec in services.values():
        for value in spec["environment"].values():
            urls += re.findall(r"http://([a-z0-9]+):(\d+)", str(value))
    internal = [(host, int(port)) for host, port in urls if host != "localhost"]
    assert internal, "services must reach each other by name"
    for host, port in internal:
        assert host in services, f"{host} is not a compose service"
        assert ports[host] == port, f"{host} listens on {ports[host]}, not {port}"


def test_dockerfile_copies_every_package_and_installs_the_distribution() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in [*SETTINGS, "services"]:
        assert f"COPY {package} ./{package}" in dockerfile
    assert "pip install ." in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, re.M)


def _loopback_only(networks: list[str]) -> bool:
    return all(ipaddress.ip_network(n).is_loopback for n in networks)


def test_empty_passwords_are_allowed_only_from_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    zoned = 0
    for spec in _mcsim_services().values():
        with monkeypatch.context() as patch:
            settings = _settings_for(spec, patch)
        for zone in getattr(settings, "security_zones", []):
            zoned += 1
            if not _loopback_only(zone.networks):
                assert not zone.allow_empty_password, zone.name
    assert zoned >= 6  # the mid-sourcing server and both execution instances


def test_only_the_load_balancer_is_a_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    compose = _compose()
    balancer = compose["services"]["loadbalancer"]
    address = ipaddress.ip_address(balancer["networks"]["default"]["ipv4_address"])
    (subnet,) = compose["networks"]["default"]["ipam"]["config"]
    assert address in ipaddress.ip_network(subnet["subnet"])
    executions = 0
    for spec in _mcsim_services().values():
        with monkeypatch.context() as patch:
            settings = _settings_for(spec, patch)
        if isinstance(settings, ExecutionSettings):
            executions += 1
            assert settings.trusted_proxies == [f"{address}/32"]
    assert executions == 2
