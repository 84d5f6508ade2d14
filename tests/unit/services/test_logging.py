"""Structured log lines: JSON with the service, the request id and the extras."""

from __future__ import annotations

import json
import logging

import pytest

from services.logging_setup import JsonFormatter, TextFormatter, request_id


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("mcsim.test", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_lines_carry_service_instance_request_id_and_extras() -> None:
    token = request_id.set("rid-42")
    try:
        line = JsonFormatter("execution", "2").format(
            _record("pushed", pl_id=12, color_message="x")
        )
    finally:
        request_id.reset(token)
    entry = json.loads(line)
    assert entry["service"] == "execution"
    assert entry["instance"] == "2"
    assert entry["request_id"] == "rid-42"
    assert entry["msg"] == "pushed"
    assert entry["pl_id"] == 12
    assert entry["level"] == "info"
    assert "color_message" not in entry


def test_json_lines_escape_hostile_messages_onto_one_line() -> None:
    line = JsonFormatter("control", None).format(_record('a\n"b"\u2028'))
    assert "\n" not in line
    assert json.loads(line)["msg"] == 'a\n"b"\u2028'


def test_text_lines_show_extras(capsys: pytest.CaptureFixture[str]) -> None:
    line = TextFormatter("midsourcing").format(_record("sent", recipient="ann@example.com"))
    assert "midsourcing" in line
    assert line.endswith("sent recipient=ann@example.com")
