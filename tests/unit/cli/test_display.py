"""The ready banner: URLs of every service and the credentials that apply."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from services.cli.display import ready_banner
from services.cli.plan import StackOptions, plan_stack
from services.settings import Environment


def render(environment: Environment, tmp_path: Path) -> str:
    plan = plan_stack(
        StackOptions(data_dir=tmp_path, instances=3, lb_port=7080, environment=environment)
    )
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(ready_banner(plan, {"load_balancer": 4242}))
    return console.export_text()


def test_banner_lists_every_url_and_the_development_credentials(tmp_path: Path) -> None:
    text = render(Environment.DEVELOPMENT, tmp_path)
    for url in [
        "http://127.0.0.1:7080/nl/jsp/soaprouter.jsp",
        "http://127.0.0.1:8081",
        "http://127.0.0.1:8082",
        "http://127.0.0.1:8083",
        "http://127.0.0.1:8070/docs",
        "http://127.0.0.1:8090/",
    ]:
        assert url in text
    assert "4242" in text
    assert "mc / mc" in text
    assert "admin / admin" in text
    assert "mcsim-dev-token" in text
    assert "mccontrol / mcsim-dev-control" in text
    assert "mcsim-dev-lb-admin" in text
    assert "http://127.0.0.1:8070/ims/token/v3" in text
    assert "mcsim-dev-client / p8e-mcsim-dev-client-secret" in text
    assert str(tmp_path / "logs") in text


def test_banner_says_development_credentials_are_disabled_in_production(tmp_path: Path) -> None:
    text = render(Environment.PRODUCTION, tmp_path)
    assert "disabled in production" in text
    assert "admin / admin" not in text
    assert "p8e-mcsim-dev-client-secret" not in text
