"""Building blocks of the control instance: secrets, roles, content, diffs, ctx, settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from control_instance.auth.roles import Role
from control_instance.secrets import KEY_FILE, SecretBox, SecretError, load_key
from control_instance.settings import ControlSettings
from control_instance.templates.content import ChannelName, compile_content, normalize
from control_instance.templates.seeds import check_address, parse_ctx
from control_instance.templates.versions import diff_fields
from services.errors import InvalidRequest, MalformedXml
from services.personalization import TemplateSyntaxError


def test_a_sealed_secret_opens_only_with_its_key_and_purpose(tmp_path: Path) -> None:
    box = SecretBox(load_key(secret_key="k" * 32, data_dir=tmp_path))
    sealed = box.seal("p@ss", purpose="account-password")
    assert "p@ss" not in sealed
    assert sealed != box.seal("p@ss", purpose="account-password")  # a fresh nonce each time
    assert box.open(sealed, purpose="account-password") == "p@ss"
    with pytest.raises(SecretError):
        box.open(sealed, purpose="technical-token")
    other = SecretBox(load_key(secret_key="o" * 32, data_dir=tmp_path))
    with pytest.raises(SecretError, match="cannot be decrypted"):
        other.open(sealed, purpose="account-password")
    with pytest.raises(SecretError):
        box.open("plain text", purpose="account-password")


def test_without_a_setting_the_key_is_made_once_in_a_private_file(tmp_path: Path) -> None:
    first = load_key(secret_key=None, data_dir=tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(secret_key=None, data_dir=tmp_path) == first
    assert load_key(secret_key=None, data_dir=tmp_path / "elsewhere") != first


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.EDITOR)
    assert Role.EDITOR.allows(Role.VIEWER)
    assert Role.EDITOR.allows(Role.EDITOR)
    assert not Role.VIEWER.allows(Role.EDITOR)
    assert not Role.EDITOR.allows(Role.ADMIN)


def test_content_has_every_field_of_its_channel_and_no_other() -> None:
    assert normalize(ChannelName.IOS, {"title": "t"}) == {"title": "t", "body": "", "data": ""}
    with pytest.raises(InvalidRequest, match="unknown field"):
        normalize(ChannelName.SMS, {"text": "a", "html": "b"})
    assert [c.code for c in ChannelName] == [0, 1, 41, 42]
    assert ChannelName.of(41) is ChannelName.IOS


def test_a_syntax_error_names_field_and_line() -> None:
    with pytest.raises(TemplateSyntaxError) as error:
        compile_content("t", ChannelName.EMAIL, {"html": "a\nb\n<% if (x) { %>"})
    assert error.value.field == "html"
    assert error.value.line is not None


def test_diff_reports_changed_fields_only() -> None:
    fields = diff_fields(
        ("subject", "text"),
        {"subject": "a", "text": "same"},
        {"subject": "b", "text": "same"},
        names=("v1", "v2"),
    )
    assert [(f.field, f.changed) for f in fields] == [("subject", True), ("text", False)]
    assert "-a" in fields[0].diff
    assert "+b" in fields[0].diff
    assert fields[1].diff == ""
    # fields without a final newline still give one diff line each
    assert fields[0].diff.splitlines()[-2:] == ["-a", "+b"]


def test_ctx_errors_name_their_line() -> None:
    assert parse_ctx("<ctx><a>1</a></ctx>").tag == "ctx"
    with pytest.raises(MalformedXml, match=r"line 3, column 7: .*tag mismatch: a line 2"):
        parse_ctx("<ctx>\n<a>\n</ctx>")


def test_addresses_are_checked_by_channel() -> None:
    assert check_address(ChannelName.EMAIL, " ann@example.com ") == "ann@example.com"
    assert check_address(ChannelName.SMS, "+44 7700 900123") == "+447700900123"  # E.164
    assert check_address(ChannelName.ANDROID, "token-1") == "token-1"
    with pytest.raises(InvalidRequest):
        check_address(ChannelName.SMS, "ann@example.com")


def test_settings_development_defaults_and_production_refusals() -> None:
    development = ControlSettings()
    assert development.admin_password == "admin"
    assert development.midsourcing_password == "mid"
    production = ControlSettings(environment="production", admin_password="s3cret-admin")
    assert production.execution_password is None
    assert production.midsourcing_password is None
    with pytest.raises(ValidationError, match="refused in production"):
        ControlSettings(environment="production", admin_password="admin")
    with pytest.raises(ValidationError, match="at least 32"):
        ControlSettings(secret_key="short")
