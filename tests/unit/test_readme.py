"""The README documents what a user can set: every service setting and every mcsim option."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from control_instance.settings import ControlSettings
from execution_instance.settings import ExecutionSettings
from load_balancer.settings import BalancerSettings
from midsourcing.settings import MidSettings
from services.cli.main import app
from services.settings import ServiceSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize(
    "settings_class", [ExecutionSettings, ControlSettings, MidSettings, BalancerSettings]
)
def test_every_setting_has_its_variable_and_description_in_the_readme(
    settings_class: type[ServiceSettings],
) -> None:
    prefix = settings_class.model_config["env_prefix"]
    missing = [
        f"{prefix}{name.upper()}"
        for name in settings_class.model_fields
        if f"`{prefix}{name.upper()}`" not in README
    ]
    assert missing == [], f"document these in README.md: {missing}"
    undescribed = [
        name for name, field in settings_class.model_fields.items() if not field.description
    ]
    assert undescribed == []


def test_every_mcsim_up_option_is_in_the_readme() -> None:
    group = typer.main.get_command(app)
    up = group.commands["up"]  # type: ignore[attr-defined]
    options = [p for p in up.params if p.param_type_name == "option" and p.name != "help"]
    assert len(options) > 10
    for parameter in options:
        assert any(f"`{opt}" in README for opt in parameter.opts), parameter.opts
        if parameter.envvar:
            assert f"`{parameter.envvar}`" in README, parameter.envvar


def test_the_quick_start_is_the_two_make_commands() -> None:
    quick_start = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "make up" in quick_start
    assert "make test" in quick_start


def test_the_plugin_example_is_the_file_the_suite_runs() -> None:
    root = Path(__file__).resolve().parents[2]
    example = (root / "tests" / "plugin" / "test_example.py").read_text(encoding="utf-8")
    assert f"```python\n{example}```" in README
