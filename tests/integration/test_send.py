"""``mcsim send`` against a real execution instance on a loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from execution_instance.app import create_app
from execution_instance.settings import ExecutionSettings
from services.cli.main import app
from services.cli.send import SendRequest, build_envelope
from services.soap.envelope import read_call
from tests.support.live import live_server


def test_the_envelope_is_a_campaign_push_event() -> None:
    request = SendRequest(
        lb_url="http://x",
        event_type="ORDER_CONFIRMATION",
        channel="ios",
        device_token="tok",
        app="com.acme",
        ctx={"orderId": "A<1>"},
        batch=True,
    )
    call = read_call(build_envelope(request).encode())
    assert call.action == "nms:batchEvent#PushEvent"
    assert call.session_token == "mc/mc"
    event = call.document(1)
    assert event is not None
    assert event.tag == "batchEvent"
    assert event.get("wishedChannel") == "41"
    assert event.get("registrationToken") == "tok"
    assert event.findtext("ctx/orderId") == "A<1>"
    assert event.find("mobileApp").get("uuid") == "com.acme"  # type: ignore[union-attr]


@pytest.fixture
def instance_url(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = ExecutionSettings(
        data_dir=tmp_path, event_types=["PASSWORD_RESET"], midsourcing_url="http://127.0.0.1:1"
    )
    with live_server(create_app(settings)) as url:
        yield url


def test_send_prints_the_plid_and_waits_for_a_final_status(instance_url: str) -> None:
    result = CliRunner().invoke(
        app,
        [
            "send",
            "PASSWORD_RESET",
            "--email",
            "ann@example.com",
            "--ctx",
            "firstName=Ann",
            "--lb-url",
            instance_url,
            "--wait",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "plId 72057594037927937 (execution instance 1)" in result.output
    assert "status routingFailed" in result.output  # no template is published
    assert "no published template" in result.output


def test_send_reports_a_fault_clearly(instance_url: str) -> None:
    result = CliRunner().invoke(
        app, ["send", "NOPE", "--email", "ann@example.com", "--lb-url", instance_url]
    )
    assert result.exit_code == 1
    assert "unknown event type 'NOPE'" in result.output


def test_send_refuses_malformed_ctx() -> None:
    result = CliRunner().invoke(app, ["send", "X", "--ctx", "novalue"])
    assert result.exit_code == 2
    assert "is not key=value" in result.output
