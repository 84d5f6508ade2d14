"""The packages page: the environment, export of chosen templates, import with a dry run."""

from __future__ import annotations

from typing import Any

from tests.integration.console.conftest import HTML, Browser
from tests.integration.console.ops_support import console_as
from tests.integration.control.builders import make_template

HOSTILE = (
    b'<?xml version="1.0"?><!DOCTYPE package [<!ENTITY x "boom">]>'
    b'<package namespace="mcsim" name="evil">&x;</package>'
)


async def _template(browser: Browser, label: str | None = None) -> dict[str, Any]:
    headers = await browser.cell.login()
    template = await make_template(browser.cell, headers)
    if label is not None:
        changed = await browser.client.patch(
            f"/api/v1/templates/{template['id']}", json={"label": label}, headers=headers
        )
        assert changed.status_code == 200, changed.text
    return template


async def _label(browser: Browser, template_id: int) -> str:
    headers = await browser.cell.login()
    answer = await browser.client.get(f"/api/v1/templates/{template_id}", headers=headers)
    return str(answer.json()["label"])


async def test_the_page_shows_the_environment_and_both_forms(browser: Browser) -> None:
    template = await _template(browser)
    answer = await browser.get("/packages")
    assert answer.status_code == 200
    assert 'id="package-environment" class="env env-development"' in answer.text
    assert f'value="{template["name"]}" id="export-template-{template["id"]}"' in answer.text
    assert 'id="package-export"' in answer.text and 'id="package-dry-run"' in answer.text


async def test_export_downloads_the_chosen_templates(browser: Browser) -> None:
    chosen = await _template(browser)
    other = await _template(browser)
    answer = await browser.client.get(
        f"/packages/export?template={chosen['name']}&account=exec1&name=move&label=Move"
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/xml")
    assert "attachment" in answer.headers["content-disposition"]
    assert chosen["name"] in answer.text and other["name"] not in answer.text
    assert 'name="move"' in answer.text and "exec1" in answer.text
    assert "password" not in answer.text.lower().replace('password=""', "")
    every = await browser.client.get("/packages/export")
    assert chosen["name"] in every.text and other["name"] in every.text
    missing = await browser.client.get("/packages/export?template=NOPE", headers=HTML)
    assert missing.status_code in (400, 404) and "NOPE" in missing.text


async def test_a_dry_run_lists_the_changes_and_apply_makes_them(browser: Browser) -> None:
    template = await _template(browser, label="Before")
    package = (await browser.client.get(f"/packages/export?template={template['name']}")).content
    await _template(browser)  # something else, untouched by the import
    headers = await browser.cell.login()
    await browser.client.patch(
        f"/api/v1/templates/{template['id']}", json={"label": "Changed here"}, headers=headers
    )
    dry = await browser.hx(
        "POST", "/packages/import", files={"file": ("p.xml", package, "application/xml")}
    )
    assert dry.status_code == 200, dry.text
    assert 'data-dry-run="true"' in dry.text and "Dry run" in dry.text
    assert 'data-action="updated"' in dry.text and "label" in dry.text
    assert 'id="package-apply"' in dry.text
    assert await _label(browser, template["id"]) == "Changed here"  # nothing changed yet
    applied = await browser.hx(
        "POST", "/packages/import", data={"step": "apply", "xml": package.decode()}
    )
    assert applied.status_code == 200 and "Package imported." in applied.text
    assert await _label(browser, template["id"]) == "Before"
    again = await browser.hx("POST", "/packages/import", data={"xml": package.decode()})
    assert "everything is unchanged" in again.text or 'data-action="updated"' not in again.text
    assert 'id="package-apply"' not in again.text


async def test_a_plain_form_import_renders_the_whole_page(browser: Browser) -> None:
    template = await _template(browser)
    package = (await browser.client.get(f"/packages/export?template={template['name']}")).text
    answer = await browser.post("/packages/import", {"xml": package})
    assert answer.status_code == 200 and "<html" in answer.text
    assert 'id="import-report"' in answer.text and 'id="package-environment"' in answer.text


async def test_bad_packages_are_refused_and_change_nothing(browser: Browser) -> None:
    template = await _template(browser, label="Kept")
    hostile = await browser.hx(
        "POST", "/packages/import", files={"file": ("x.xml", HOSTILE, "application/xml")}
    )
    assert hostile.status_code == 400 and hostile.headers["HX-Retarget"] == "#flash"
    empty = await browser.hx("POST", "/packages/import", data={"xml": "  "})
    assert empty.status_code == 400 and "paste the package" in empty.text
    broken = await browser.hx("POST", "/packages/import", data={"xml": "<package"})
    assert broken.status_code == 400
    assert await _label(browser, template["id"]) == "Kept"


async def test_roles_and_csrf_guard_export_and_import(browser: Browser) -> None:
    template = await _template(browser)
    package = (await browser.client.get(f"/packages/export?template={template['name']}")).text
    refused = await browser.client.post("/packages/import", data={"xml": package}, headers=HTML)
    assert refused.status_code == 403
    async with console_as(browser, "viewer") as viewer:
        page = await viewer.get("/packages")
        assert page.status_code == 200 and 'id="package-environment"' in page.text
        assert 'id="package-export"' not in page.text and 'id="package-dry-run"' not in page.text
        assert (await viewer.get("/packages/export")).status_code == 403
    async with console_as(browser, "editor") as editor:
        page = await editor.get("/packages")
        assert 'id="package-export"' in page.text and 'id="package-dry-run"' not in page.text
        assert (await editor.client.get("/packages/export")).status_code == 200
        assert (
            await editor.hx("POST", "/packages/import", data={"xml": package})
        ).status_code == 403


async def test_the_texts_of_a_package_are_shown_inert(browser: Browser) -> None:
    template = await _template(browser)
    package = (await browser.client.get(f"/packages/export?template={template['name']}")).text
    hostile = package.replace('label=""', 'label="&lt;script&gt;alert(1)&lt;/script&gt;"', 1)
    assert hostile != package
    dry = await browser.hx("POST", "/packages/import", data={"xml": hostile})
    assert dry.status_code == 200, dry.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dry.text and "<script>" not in dry.text
