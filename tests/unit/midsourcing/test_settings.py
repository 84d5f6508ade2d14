"""Mid-sourcing settings: development credentials, refused in production; documented fields."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from midsourcing.settings import MidSettings


def test_development_defaults_to_the_mid_operator() -> None:
    assert MidSettings(environment="development").operators == {"mid": "mid"}


def test_production_refuses_the_development_password() -> None:
    with pytest.raises(ValidationError, match="mid/mid is refused in production"):
        MidSettings(environment="production", operators={"mid": "mid"})


def test_production_has_no_default_operator_and_accepts_a_real_one() -> None:
    assert MidSettings(environment="production").operators == {}
    settings = MidSettings(environment="production", operators={"mid": "s3cret!"})
    assert settings.operators == {"mid": "s3cret!"}


def test_settings_come_from_mcsim_mid_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCSIM_MID_SMTP_HOST", "relay.example")
    monkeypatch.setenv("MCSIM_MID_SMTP_PORT", "2525")
    monkeypatch.setenv("MCSIM_MID_OPERATORS", '{"mid": "x"}')
    settings = MidSettings()
    assert (settings.smtp_host, settings.smtp_port, settings.operators) == (
        "relay.example",
        2525,
        {"mid": "x"},
    )


def test_every_setting_is_described() -> None:
    assert [n for n, f in MidSettings.model_fields.items() if not f.description] == []
