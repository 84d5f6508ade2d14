"""``mcsim package export|import`` against live control instances on loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from control_instance.app import create_app
from control_instance.settings import ControlSettings
from services.cli.main import app
from tests.support.live import live_server

STAGE_ADMIN = "stage-admin-password"


def token(url: str, password: str = "admin") -> str:
    """Log in as admin and return a bearer token."""
    answer = httpx.post(
        f"{url}/api/v1/auth/login", json={"login": "admin", "password": password}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["access_token"]
    return value


@pytest.fixture
def controls(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A development and a stage control instance, each on its own loopback port."""
    dev = create_app(ControlSettings(data_dir=tmp_path / "dev"))
    stage = create_app(
        ControlSettings(
            data_dir=tmp_path / "stage", environment="stage", admin_password=STAGE_ADMIN
        )
    )
    with live_server(dev) as dev_url, live_server(stage) as stage_url:
        yield dev_url, stage_url


def test_export_then_dry_run_then_import(controls: tuple[str, str], tmp_path: Path) -> None:
    dev_url, stage_url = controls
    dev_token, stage_token = token(dev_url), token(stage_url, STAGE_ADMIN)
    auth = {"authorization": f"Bearer {dev_token}"}
    for body, path in (
        ({"name": "ORDER_SHIPPED", "label": "Order shipped"}, "event-types"),
        (
            {"event_type": "ORDER_SHIPPED", "channel": "sms", "content": {"text": "Shipped!"}},
            "templates",
        ),
        (
            {"event_type": "ORDER_SHIPPED", "channel": "email", "content": {"subject": "Hi"}},
            "templates",
        ),
    ):
        answer = httpx.post(f"{dev_url}/api/v1/{path}", json=body, headers=auth, timeout=10)
        assert answer.status_code == 201, answer.text
    out = tmp_path / "package.xml"
    runner = CliRunner()

    exported = runner.invoke(
        app,
        [
            *("package", "export", "--control", dev_url, "--token", dev_token),
            *("--out", str(out), "--template", "ORDER_SHIPPED_sms"),
        ],
    )
    assert exported.exit_code == 0, exported.output
    assert "from the development control instance" in exported.output
    assert b'internalName="ORDER_SHIPPED_sms"' in out.read_bytes()
    assert b"ORDER_SHIPPED_email" not in out.read_bytes()

    command = ["package", "import", "--control", stage_url, "--token", stage_token, str(out)]
    dry = runner.invoke(app, [*command, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "created   nms:delivery ORDER_SHIPPED_sms" in dry.output
    assert "dry run on the stage control instance: 2 created" in dry.output
    stage_auth = {"authorization": f"Bearer {stage_token}"}
    listed = httpx.get(f"{stage_url}/api/v1/templates", headers=stage_auth, timeout=10).json()
    assert listed["total"] == 0

    applied = runner.invoke(app, command)
    assert applied.exit_code == 0, applied.output
    assert "import into the stage control instance: 2 created" in applied.output
    assert "; applied" in applied.output
    listed = httpx.get(f"{stage_url}/api/v1/templates", headers=stage_auth, timeout=10).json()
    assert [(t["name"], t["state"]) for t in listed["items"]] == [
        ("ORDER_SHIPPED_sms", "being_edited")
    ]

    again = runner.invoke(app, [*command, "--dry-run"])
    assert "0 created, 0 updated, 2 unchanged" in again.output


def test_errors_are_reported_with_exit_code_1(controls: tuple[str, str], tmp_path: Path) -> None:
    dev_url, _ = controls
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<!DOCTYPE package [<!ENTITY x "y">]><package/>')
    runner = CliRunner()
    hostile = runner.invoke(
        app, ["package", "import", "--control", dev_url, "--token", token(dev_url), str(bad)]
    )
    assert hostile.exit_code == 1
    assert "not imported" in hostile.output and "HTTP 400" in hostile.output
    wrong = runner.invoke(
        app,
        ["package", "export", "--control", dev_url, "--token", "nope", "--out", str(bad)],
    )
    assert wrong.exit_code == 1
    assert "HTTP 401" in wrong.output
