"""In docker-compose.yml every execution instance reads the IMS keys from the control instance,
which answers to that host name."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.unit.test_compose import _mcsim_services, _settings_for


def test_execution_instances_verify_ims_tokens_with_the_control_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = _mcsim_services()
    with monkeypatch.context() as patch:
        control = _settings_for(services["control"], patch)
    executions = [s for s in services.values() if s["command"][2] == "execution_instance"]
    assert executions
    for spec in executions:
        with monkeypatch.context() as patch:
            settings = _settings_for(spec, patch)
        ims_url = getattr(settings, "ims_url", None)
        assert ims_url is not None, "an execution instance without IMS refuses IMS tokens"
        parts = urlsplit(ims_url)
        assert parts.hostname == "control"
        assert parts.port == control.port
        assert "control" in control.allowed_hosts  # else the keys' request gets 421
