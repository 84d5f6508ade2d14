"""Malformed, hostile, oversized and tampered packages are refused, and nothing changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import DatabaseTarget
from tests.integration.control.builders import make_template
from tests.integration.control.conftest import Cell, control_cell
from tests.integration.packages.test_round_trip import export, install, without_date

VALID_HEAD = b'<package namespace="mcsim" name="p" buildNumber="1" buildVersion="x"><desc/>'


def tampered(package: bytes, old: bytes, new: bytes) -> bytes:
    """Return the package with one replacement made (which must apply)."""
    assert old in package, old
    return package.replace(old, new, 1)


async def snapshot(cell: Cell, headers: dict[str, str]) -> bytes:
    """Return everything the control instance holds, as a package without its date."""
    return without_date(await export(cell, headers))


@pytest.fixture
async def source(tmp_path: Path) -> bytes:
    """A package exported from another (development) control instance."""
    async with control_cell(tmp_path / "source", instances=0) as dev:
        headers = await dev.login()
        template = await make_template(dev, headers)
        answer = await dev.control.post(
            f"/api/v1/templates/{template['id']}/seeds",
            json={"label": "QA", "address": "qa@acme.test"},
            headers=headers,
        )
        assert answer.status_code == 201, answer.text
        return await export(dev, headers, template=[template["name"]])


def cases(package: bytes) -> dict[str, tuple[bytes, int, str, str]]:
    """Return each refused package, its status, error code and a part of its message."""
    root = etree.fromstring(package)
    template = root.find("entities/delivery").get("internalName")
    event_type = root.find("entities/eventType").get("name")
    without_types = re.sub(
        rb'<entities schema="nms:eventType">.*?</entities>', b"", package, flags=re.S
    )
    return {
        "malformed": (package[: len(package) // 2], 400, "malformed_xml", "not well formed"),
        "not a package": (b"<ctx/>", 400, "invalid_package", "<package>"),
        "entity": (
            b'<?xml version="1.0"?><!DOCTYPE package [<!ENTITY x "boom">]>'
            + VALID_HEAD
            + b"<entities schema='nms:eventType'><eventType name='A' label='&x;'/></entities>"
            b"</package>",
            400,
            "forbidden_xml",
            "",
        ),
        "external entity": (
            b'<?xml version="1.0"?><!DOCTYPE package SYSTEM "file:///etc/passwd">'
            + VALID_HEAD
            + b"</package>",
            400,
            "forbidden_xml",
            "",
        ),
        "oversized": (
            VALID_HEAD + b"<!--" + b"x" * (6 * 1024 * 1024) + b"--></package>",
            413,
            "payload_too_large",
            "",
        ),
        "unknown schema": (
            tampered(package, b'schema="nms:seedMember"', b'schema="xtk:operator"'),
            400,
            "invalid_package",
            "xtk:operator",
        ),
        "missing event type": (without_types, 400, "invalid_package", event_type),
        "missing template": (
            tampered(
                package,
                f'<delivery _operation="none" internalName="{template}"/>'.encode(),
                b'<delivery _operation="none" internalName="NO_SUCH_TEMPLATE"/>',
            ),
            400,
            "invalid_package",
            "NO_SUCH_TEMPLATE",
        ),
        "wrong format": (
            tampered(package, b'buildNumber="1"', b'buildNumber="99"'),
            400,
            "incompatible_package",
            "format 99",
        ),
        "password": (
            tampered(
                package,
                b"</package>",
                b'<entities schema="nms:extAccount"><extAccount name="x" url="http://x.test" '
                b'login="mc" password="secret"/></entities></package>',
            ),
            400,
            "invalid_package",
            "password",
        ),
        "broken template": (
            tampered(package, b"<subject>", b"<subject>&lt;%= unclosed "),
            400,
            "invalid_package",
            template,
        ),
        "unknown field": (
            tampered(package, b"<subject>", b"<smellyField/><subject>"),
            400,
            "invalid_package",
            "smellyField",
        ),
        "duplicate": (
            tampered(
                package,
                b"</entities>",
                f'<eventType name="{event_type}" label="again"/></entities>'.encode(),
            ),
            400,
            "invalid_package",
            "twice",
        ),
    }


def on(target: DatabaseTarget) -> dict[str, str | None]:
    """Return the control-instance settings that keep its tables in ``target``."""
    return {"database_url": target.url, "database_schema": target.schema}


@pytest.mark.postgres
async def test_refused_packages_change_nothing(
    tmp_path: Path, source: bytes, database_target: DatabaseTarget
) -> None:
    async with control_cell(tmp_path / "target", instances=0, **on(database_target)) as target:
        headers = await target.login()
        await make_template(target, headers)  # something that must stay as it is
        before = await snapshot(target, headers)
        for name, (package, status, error, message) in cases(source).items():
            for dry_run in (True, False):
                answer = await install(target, headers, package, dry_run=dry_run)
                assert answer.status_code == status, (name, answer.text)
                assert answer.json()["error"] == error, (name, answer.text)
                assert message in answer.json()["message"], (name, answer.text)
        assert await snapshot(target, headers) == before
        # The untampered package still installs: the refusals were about the tampering.
        good = await install(target, headers, source, dry_run=False)
        assert good.status_code == 200, good.text
        assert good.json()["created"] == 3
        assert await snapshot(target, headers) != before


async def test_roles_and_unknown_names(tmp_path: Path, source: bytes) -> None:
    async with control_cell(tmp_path / "target", instances=0) as target:
        editor, viewer = await target.as_role("editor"), await target.as_role("viewer")
        refused = await install(target, editor, source, dry_run=True)
        assert refused.status_code == 403
        assert "admin" in refused.json()["message"]
        answer = await target.control.get("/api/v1/packages/export", headers=viewer)
        assert answer.status_code == 403
        missing = await target.control.get(
            "/api/v1/packages/export", params={"template": "NOPE"}, headers=editor
        )
        assert missing.status_code == 404
        assert "NOPE" in missing.json()["message"]


#: A trigger that refuses the seed address labelled QA, in each database's dialect.
REFUSE_SEED = {
    "sqlite": [
        "CREATE TRIGGER refuse_seed BEFORE INSERT ON seeds WHEN NEW.label = 'QA' "
        "BEGIN SELECT RAISE(ABORT, 'no seed today'); END"
    ],
    "postgres": [
        "CREATE FUNCTION refuse_seed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.label = 'QA' THEN RAISE EXCEPTION 'no seed today'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_seed BEFORE INSERT ON seeds FOR EACH ROW "
        "EXECUTE FUNCTION refuse_seed()",
    ],
}


@pytest.mark.postgres
async def test_a_failure_while_applying_leaves_nothing_behind(
    tmp_path: Path, source: bytes, database_target: DatabaseTarget
) -> None:
    async with control_cell(tmp_path / "target", instances=0, **on(database_target)) as target:
        headers = await target.login()
        before = await snapshot(target, headers)
        # The database itself refuses the last row the import writes (the seed address), after
        # the event type and the template were already written in the same transaction.
        engine = target.control_app.state.control.db.engine
        with engine.begin() as connection:
            for statement in REFUSE_SEED[database_target.kind]:
                connection.exec_driver_sql(statement)
        dry = await install(target, headers, source, dry_run=True)
        assert dry.json()["created"] == 3  # the checks pass: only the write fails
        answer = await install(target, headers, source, dry_run=False)
        assert answer.status_code == 409, answer.text
        assert "nothing was imported" in answer.json()["message"]
        assert "no seed today" in answer.json()["detail"]
        assert await snapshot(target, headers) == before
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "DROP TRIGGER refuse_seed"
                + (" ON seeds" if database_target.kind == "postgres" else "")
            )
        assert (await install(target, headers, source, dry_run=False)).status_code == 200
        assert await snapshot(target, headers) != before
