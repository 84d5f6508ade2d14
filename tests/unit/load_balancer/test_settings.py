"""The balancer's settings: backend URLs, the admin token by environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from load_balancer.settings import DEV_ADMIN_TOKEN, BalancerSettings, backend_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081"),
        ("http://exec-1", "http://exec-1:80"),
        (" http://[::1]:9000 ", "http://[::1]:9000"),
    ],
)
def test_backend_urls_are_normalized(given: str, expected: str) -> None:
    assert backend_url(given) == expected


@pytest.mark.parametrize(
    "given",
    ["https://x:1", "127.0.0.1:8081", "http://x:1/path", "http://u:p@x:1", "http://x:99999"],
)
def test_backend_urls_the_transport_cannot_use_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match=r"backend|port"):
        backend_url(given)


def test_the_same_backend_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="listed twice"):
        BalancerSettings(backends=["http://a:1", "http://a:1/"])


def test_the_admin_token_defaults_in_development_only() -> None:
    assert BalancerSettings().admin_token == DEV_ADMIN_TOKEN
    assert BalancerSettings(environment="stage").admin_token is None
    assert BalancerSettings(environment="production", admin_token="x").admin_token == "x"
    with pytest.raises(ValidationError, match="refused in production"):
        BalancerSettings(environment="production", admin_token=DEV_ADMIN_TOKEN)


def test_settings_come_from_mcsim_lb_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCSIM_LB_WORKERS", "3")
    monkeypatch.setenv("MCSIM_LB_BACKENDS", '["http://127.0.0.1:9001"]')
    monkeypatch.setenv("MCSIM_LB_HEALTH_FALL", "5")
    settings = BalancerSettings()
    assert (settings.workers, settings.backends, settings.health_fall) == (
        3,
        ["http://127.0.0.1:9001"],
        5,
    )
    for name, field in BalancerSettings.model_fields.items():
        assert field.description, f"{name} needs a description (the README table uses it)"


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 1), (3, 1), (4, 2), (16, 8)])
def test_the_workers_follow_the_cores_unless_chosen(
    monkeypatch: pytest.MonkeyPatch, cores: int, workers: int
) -> None:
    monkeypatch.delenv("MCSIM_LB_WORKERS", raising=False)
    monkeypatch.setattr("load_balancer.settings.usable_cores", lambda: cores)
    assert BalancerSettings().workers == workers
    monkeypatch.setenv("MCSIM_LB_WORKERS", "2")
    assert BalancerSettings().workers == 2
