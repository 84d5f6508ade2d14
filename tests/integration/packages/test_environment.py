"""Each environment is visible; production refuses development credentials and insecure cookies."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from control_instance.app import create_app
from control_instance.settings import ControlSettings
from services.dev_credentials import CONTROL_PLANE
from services.version import VERSION
from tests.support.asgi import serve


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("execution_password", "mc"),
        ("execution_password", CONTROL_PLANE[1]),
        ("midsourcing_password", "mid"),
    ],
)
def test_production_refuses_development_credentials(field: str, value: str) -> None:
    with pytest.raises(ValidationError, match="refused in production"):
        ControlSettings(environment="production", admin_password="s3cret-admin", **{field: value})
    stage = ControlSettings(environment="stage", admin_password="x", **{field: value})
    assert getattr(stage, field) == value


@pytest.mark.parametrize(
    ("environment", "secure"), [("development", False), ("stage", False), ("production", True)]
)
async def test_environment_is_shown_and_production_cookies_are_secure(
    tmp_path: Path, environment: str, secure: bool
) -> None:
    settings = ControlSettings(
        data_dir=tmp_path, environment=environment, admin_password="an-admin-password"
    )
    async with serve(create_app(settings)) as control:
        info = await control.get("/api/v1/environment")
        assert info.status_code == 200
        expected = {"environment": environment, "version": VERSION, "package_format": "1"}
        assert info.json() == expected
        session = await control.post(
            "/api/v1/auth/session", json={"login": "admin", "password": "an-admin-password"}
        )
        assert session.status_code == 200, session.text
        cookies = session.headers.get_list("set-cookie")
        assert len(cookies) == 2
        assert all(("; secure" in c.lower()) is secure for c in cookies), cookies
