"""Development → stage → production: packages move configuration through three control instances."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from services.dev_credentials import CONTROL_PLANE
from tests.conftest import DatabaseTarget
from tests.integration.control.builders import make_template, unique
from tests.integration.control.conftest import Cell, control_cell

PROD_ADMIN = "prod-admin-password"
STAGE_ADMIN = "stage-admin-password"
ACCOUNT_PASSWORD = "Sup3r-Secret-Account-Pw"


async def export(cell: Cell, headers: dict[str, str], **params: Any) -> bytes:
    """Export a package and return its bytes."""
    answer = await cell.control.get("/api/v1/packages/export", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    return answer.content


async def install(
    cell: Cell, headers: dict[str, str], package: bytes, *, dry_run: bool
) -> httpx.Response:
    """Post a package to the import endpoint."""
    return await cell.control.post(
        "/api/v1/packages/import",
        params={"dry_run": str(dry_run).lower()},
        content=package,
        headers={**headers, "content-type": "application/xml"},
    )


def without_date(package: bytes) -> bytes:
    """Return a package without its build date."""
    return re.sub(rb'buildDate="[^"]*"', b"", package)


def actions(report: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Return each entity's action, by schema and key."""
    return {(c["schema_name"], c["key"]): c["action"] for c in report["changes"]}


async def template_named(cell: Cell, headers: dict[str, str], name: str) -> dict[str, Any]:
    """Return the template called ``name``."""
    page = (await cell.control.get("/api/v1/templates", headers=headers)).json()
    found = [t for t in page["items"] if t["name"] == name]
    assert len(found) == 1, page
    result: dict[str, Any] = found[0]
    return result


@pytest.mark.postgres
async def test_development_stage_production_round_trip(
    tmp_path: Path, database_target: DatabaseTarget
) -> None:
    async with (
        control_cell(tmp_path / "dev", instances=1) as dev,
        control_cell(  # stage on PostgreSQL too, when the tests have one
            tmp_path / "stage",
            instances=1,
            environment="stage",
            admin_password=STAGE_ADMIN,
            execution_password=CONTROL_PLANE[1],
            database_url=database_target.url,
            database_schema=database_target.schema,
        ) as stage,
        control_cell(
            tmp_path / "prod",
            instances=0,
            environment="production",
            admin_password=PROD_ADMIN,
            execution_password="prod-exec-password",
        ) as prod,
    ):
        dev_h, stage_h = await dev.login(), await stage.login(password=STAGE_ADMIN)
        prod_h = await prod.login(password=PROD_ADMIN)
        for cell, name in ((dev, "development"), (stage, "stage"), (prod, "production")):
            info = await cell.control.get("/api/v1/environment")
            assert info.json()["environment"] == name
            assert info.headers["x-mcsim-environment"] == name

        template = await make_template(dev, dev_h)
        name, event_type = template["name"], template["event_type"]
        seed = await dev.control.post(
            f"/api/v1/templates/{template['id']}/seeds",
            json={
                "label": "QA",
                "address": "qa@acme.test",
                "ctx": "<ctx><firstName>Q</firstName></ctx>",
            },
            headers=dev_h,
        )
        assert seed.status_code == 201, seed.text
        published = await dev.control.post(
            f"/api/v1/templates/{template['id']}/publish", headers=dev_h
        )
        assert published.status_code == 200 and published.json()["complete"], published.text
        # Work in progress on the draft stays in development: the published version moves.
        draft = await dev.control.patch(
            f"/api/v1/templates/{template['id']}",
            json={"content": {"subject": "WORK IN PROGRESS"}},
            headers=dev_h,
        )
        assert draft.status_code == 200
        account = unique("acct").lower()
        created = await dev.control.post(
            "/api/v1/execution-instances",
            json={"name": account, "url": "http://exec-9.test", "password": ACCOUNT_PASSWORD},
            headers=dev_h,
        )
        assert created.status_code == 201, created.text

        everything = await export(dev, dev_h)
        assert f'internalName="{name}"'.encode() in everything
        assert b"extAccount" not in everything  # accounts move only when chosen by name
        package = await export(dev, dev_h, template=[name], account=[account])
        assert ACCOUNT_PASSWORD.encode() not in package
        assert b"password" not in package.lower()
        assert b"WORK IN PROGRESS" not in package
        root = etree.fromstring(package)
        assert root.get("environment") == "development"
        assert [e.get("schema") for e in root.iter("entities")] == [
            "nms:eventType",
            "nms:delivery",
            "nms:seedMember",
            "nms:extAccount",
        ]
        assert root.find("entities/delivery").get("publishedVersion") == "1"
        # Stable: exporting again gives the same document but for its build date.
        again = await export(dev, dev_h, template=[name], account=[account])
        assert without_date(again) == without_date(package)
        assert b"buildDate" in package

        # Stage: a dry run lists everything as created and changes nothing.
        dry = await install(stage, stage_h, package, dry_run=True)
        assert dry.status_code == 200, dry.text
        report = dry.json()
        assert report["applied"] is False and report["created"] == 4
        assert set(actions(report).values()) == {"created"}
        listed = (await stage.control.get("/api/v1/templates", headers=stage_h)).json()
        assert listed["total"] == 0

        applied = await install(stage, stage_h, package, dry_run=False)
        assert applied.status_code == 200, applied.text
        assert applied.json()["applied"] is True
        staged = await template_named(stage, stage_h, name)
        assert staged["state"] == "being_edited"
        assert staged["published_version"] is None
        assert staged["content"] == template["content"]
        seeds = (
            await stage.control.get(f"/api/v1/templates/{staged['id']}/seeds", headers=stage_h)
        ).json()["items"]
        assert [(s["label"], s["address"]) for s in seeds] == [("QA", "qa@acme.test")]
        listing = await stage.control.get("/api/v1/execution-instances", headers=stage_h)
        accounts = listing.json()["items"]
        imported = next(a for a in accounts if a["name"] == account)
        assert imported["enabled"] is False and imported["url"] == "http://exec-9.test"

        # The same package again changes nothing.
        same = (await install(stage, stage_h, package, dry_run=True)).json()
        assert set(actions(same).values()) == {"unchanged"}
        assert (same["created"], same["updated"], same["unchanged"]) == (0, 0, 4)
        reapplied = (await install(stage, stage_h, package, dry_run=False)).json()
        assert reapplied["applied"] is False
        assert (await template_named(stage, stage_h, name))["updated_at"] == staged["updated_at"]

        # Stage publishes (imported templates must be), then hands the package to production.
        published = await stage.control.post(
            f"/api/v1/templates/{staged['id']}/publish", headers=stage_h
        )
        assert published.status_code == 200 and published.json()["complete"], published.text
        assert stage.route("http://exec-1.test", event_type, 0) is not None
        to_prod = await export(stage, stage_h, template=[name])
        assert etree.fromstring(to_prod).get("environment") == "stage"
        result = await install(prod, prod_h, to_prod, dry_run=False)
        assert result.status_code == 200, result.text
        assert result.headers["x-mcsim-environment"] == "production"
        assert actions(result.json()) == {
            ("nms:eventType", event_type): "created",
            ("nms:delivery", name): "created",
            ("nms:seedMember", f"{name}/QA"): "created",
        }
        in_prod = await template_named(prod, prod_h, name)
        assert in_prod["state"] == "being_edited"
        assert in_prod["content"] == template["content"]

        # A new version in development shows up in stage's dry run as an update of one field.
        republished = await dev.control.post(
            f"/api/v1/templates/{template['id']}/publish", headers=dev_h
        )
        assert republished.status_code == 200
        newer = await export(dev, dev_h, template=[name])
        diff = (await install(stage, stage_h, newer, dry_run=True)).json()
        change = next(c for c in diff["changes"] if c["schema_name"] == "nms:delivery")
        assert change["action"] == "updated"
        assert change["fields"] == ["content.subject"]
        assert (await template_named(stage, stage_h, name))["content"] == template["content"]
        updated = (await install(stage, stage_h, newer, dry_run=False)).json()
        assert updated["applied"] is True
        now = await template_named(stage, stage_h, name)
        assert now["content"]["subject"] == "WORK IN PROGRESS"
        assert now["has_unpublished_changes"] is True


async def test_an_environment_exports_what_it_can_import_again(tmp_path: Path) -> None:
    """Packages name a seed address by its template and label: a second seed address with one
    label is refused where it is made (it made the environment's own export fail its import
    check, issue 18), and the full export of the environment imports again."""
    async with control_cell(tmp_path, instances=1) as cell:
        await _seeds_with_one_label_are_refused_and_the_export_imports(cell)


async def _seeds_with_one_label_are_refused_and_the_export_imports(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    seeds = f"/api/v1/templates/{template['id']}/seeds"
    first = {"label": "QA", "address": "qa@acme.test", "ctx": "<ctx/>"}
    assert (await cell.control.post(seeds, json=first, headers=admin)).status_code == 201
    second = {"label": "QA", "address": "qa2@acme.test", "ctx": "<ctx/>"}
    refused = await cell.control.post(seeds, json=second, headers=admin)
    assert refused.status_code == 409, refused.text
    assert refused.json()["field"] == "label"
    other = {**second, "label": "QA 2"}
    created = await cell.control.post(seeds, json=other, headers=admin)
    assert created.status_code == 201, created.text
    renamed = await cell.control.patch(
        f"{seeds}/{created.json()['id']}", json={"label": "QA"}, headers=admin
    )
    assert renamed.status_code == 409, renamed.text
    listed = (await cell.control.get(seeds, headers=admin)).json()["items"]
    assert sorted(s["label"] for s in listed) == ["QA", "QA 2"]

    package = await export(cell, admin)
    check = await install(cell, admin, package, dry_run=True)
    assert check.status_code == 200, check.text
    assert set(actions(check.json()).values()) == {"unchanged"}
