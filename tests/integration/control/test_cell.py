"""Event types, cell operators and technical tokens are pushed to every execution instance."""

from __future__ import annotations

from tests.integration.control.builders import make_template
from tests.integration.control.conftest import UNKNOWN_EVENT, Cell, exec_url, logon_status

URLS = (exec_url(1), exec_url(2))


async def test_event_types_are_published_renamed_and_removed_everywhere(cell: Cell) -> None:
    admin = await cell.login()
    created = await cell.control.post(
        "/api/v1/event-types", json={"name": "INVOICE", "label": "Invoice"}, headers=admin
    )
    assert created.status_code == 201
    assert created.json()["complete"] is True
    for url in URLS:
        assert "INVOICE" in (await cell.mc(url, "GET", "/event-types")).json()
    type_id = created.json()["event_type"]["id"]
    renamed = await cell.control.patch(
        f"/api/v1/event-types/{type_id}", json={"label": "Invoices"}, headers=admin
    )
    assert renamed.json()["event_type"]["label"] == "Invoices"
    template = await make_template(cell, admin, event_type="INVOICE")
    used = await cell.control.delete(f"/api/v1/event-types/{type_id}", headers=admin)
    assert used.status_code == 409
    await cell.control.delete(f"/api/v1/templates/{template['id']}", headers=admin)
    removed = await cell.control.delete(f"/api/v1/event-types/{type_id}", headers=admin)
    assert removed.status_code == 200
    assert removed.json()["complete"] is True
    for url in URLS:
        assert "INVOICE" not in (await cell.mc(url, "GET", "/event-types")).json()
    bad = await cell.control.post("/api/v1/event-types", json={"name": "no spaces"}, headers=admin)
    assert bad.status_code == 400


async def test_cell_operators_are_created_changed_and_deleted_everywhere(cell: Cell) -> None:
    admin = await cell.login()
    created = await cell.control.post(
        "/api/v1/execution-operators",
        json={"login": "website", "label": "Shop", "password": "first-pass"},
        headers=admin,
    )
    assert created.status_code == 201
    assert "first-pass" not in created.text
    for url in URLS:
        assert await logon_status(cell.instances[url], "website", "first-pass") == 200
    operator_id = created.json()["operator"]["id"]
    await cell.control.patch(
        f"/api/v1/execution-operators/{operator_id}", json={"password": "second"}, headers=admin
    )
    for url in URLS:
        assert await logon_status(cell.instances[url], "website", "second") == 200
    deleted = await cell.control.delete(f"/api/v1/execution-operators/{operator_id}", headers=admin)
    assert deleted.json()["complete"] is True
    for url in URLS:
        assert await logon_status(cell.instances[url], "website", "second") == 500


async def test_technical_tokens_are_shown_once_and_revoked_everywhere(cell: Cell) -> None:
    admin = await cell.login()
    created = await cell.control.post(
        "/api/v1/technical-tokens", json={"label": "CI"}, headers=admin
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("mcsim-")
    listed = await cell.control.get("/api/v1/technical-tokens", headers=admin)
    assert token not in listed.text
    assert listed.json()["items"][0]["hint"] == token[:10]  # "mcsim-" and 4 of 43 random
    chosen = await cell.control.post(
        "/api/v1/technical-tokens",
        json={"label": "site", "token": "sectest-token-0123456789"},
        headers=admin,
    )
    assert chosen.json()["technical_token"]["hint"] == "sectes"  # a quarter, not 10 of 24
    bearer = {"authorization": f"Bearer {token}"}
    for url in URLS:
        assert (await cell.instances[url].get(UNKNOWN_EVENT, headers=bearer)).status_code == 404
    token_id = created.json()["technical_token"]["id"]
    await cell.control.delete(f"/api/v1/technical-tokens/{token_id}", headers=admin)
    for url in URLS:
        assert (await cell.instances[url].get(UNKNOWN_EVENT, headers=bearer)).status_code == 401
