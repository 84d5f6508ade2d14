"""Roles are enforced on every route of the control API: viewer < editor < admin."""

from __future__ import annotations

from pathlib import Path

from tests.integration.control.builders import make_template
from tests.integration.control.conftest import Cell, control_cell

#: Every route under /api/v1 that needs a role, and the least role that may call it.
ROUTES = {
    ("GET", "/api/v1/operators"): "admin",
    ("POST", "/api/v1/operators"): "admin",
    ("GET", "/api/v1/operators/{operator_id}"): "admin",
    ("PATCH", "/api/v1/operators/{operator_id}"): "admin",
    ("DELETE", "/api/v1/operators/{operator_id}"): "admin",
    ("GET", "/api/v1/execution-instances"): "viewer",
    ("POST", "/api/v1/execution-instances"): "admin",
    ("POST", "/api/v1/execution-instances/sync"): "admin",
    ("GET", "/api/v1/execution-instances/{account_id}"): "viewer",
    ("PATCH", "/api/v1/execution-instances/{account_id}"): "admin",
    ("DELETE", "/api/v1/execution-instances/{account_id}"): "admin",
    ("POST", "/api/v1/execution-instances/{account_id}/test"): "admin",
    ("POST", "/api/v1/execution-instances/{account_id}/initialize"): "admin",
    ("POST", "/api/v1/execution-instances/{account_id}/sync"): "admin",
    ("GET", "/api/v1/execution-operators"): "admin",
    ("POST", "/api/v1/execution-operators"): "admin",
    ("PATCH", "/api/v1/execution-operators/{operator_id}"): "admin",
    ("DELETE", "/api/v1/execution-operators/{operator_id}"): "admin",
    ("GET", "/api/v1/technical-tokens"): "admin",
    ("POST", "/api/v1/technical-tokens"): "admin",
    ("DELETE", "/api/v1/technical-tokens/{token_id}"): "admin",
    ("GET", "/api/v1/event-types"): "viewer",
    ("POST", "/api/v1/event-types"): "editor",
    ("GET", "/api/v1/event-types/{event_type_id}"): "viewer",
    ("PATCH", "/api/v1/event-types/{event_type_id}"): "editor",
    ("DELETE", "/api/v1/event-types/{event_type_id}"): "editor",
    ("GET", "/api/v1/templates"): "viewer",
    ("POST", "/api/v1/templates"): "editor",
    ("GET", "/api/v1/templates/{template_id}"): "viewer",
    ("PATCH", "/api/v1/templates/{template_id}"): "editor",
    ("DELETE", "/api/v1/templates/{template_id}"): "editor",
    ("POST", "/api/v1/templates/{template_id}/preview"): "viewer",
    ("POST", "/api/v1/templates/{template_id}/proof"): "editor",
    ("POST", "/api/v1/templates/{template_id}/test-event"): "editor",
    ("GET", "/api/v1/templates/{template_id}/proofs"): "viewer",
    ("POST", "/api/v1/templates/{template_id}/publish"): "editor",
    ("POST", "/api/v1/templates/{template_id}/unpublish"): "editor",
    ("POST", "/api/v1/templates/{template_id}/pause"): "editor",
    ("POST", "/api/v1/templates/{template_id}/resume"): "editor",
    ("POST", "/api/v1/templates/{template_id}/rollback"): "editor",
    ("GET", "/api/v1/templates/{template_id}/versions"): "viewer",
    ("GET", "/api/v1/templates/{template_id}/versions/diff"): "viewer",
    ("GET", "/api/v1/templates/{template_id}/versions/{version}"): "viewer",
    ("GET", "/api/v1/templates/{template_id}/seeds"): "viewer",
    ("POST", "/api/v1/templates/{template_id}/seeds"): "editor",
    ("GET", "/api/v1/templates/{template_id}/seeds/{seed_id}"): "viewer",
    ("PATCH", "/api/v1/templates/{template_id}/seeds/{seed_id}"): "editor",
    ("DELETE", "/api/v1/templates/{template_id}/seeds/{seed_id}"): "editor",
    ("GET", "/api/v1/events"): "viewer",
    ("GET", "/api/v1/events/{pl_id}"): "viewer",
    ("POST", "/api/v1/events/archive"): "admin",
    ("GET", "/api/v1/monitoring"): "viewer",
    ("GET", "/api/v1/reports/history"): "viewer",
    ("GET", "/api/v1/reports/service-level"): "viewer",
    ("GET", "/api/v1/reports/processing-time"): "viewer",
    ("GET", "/api/v1/packages/export"): "editor",
    ("POST", "/api/v1/packages/import"): "admin",
    ("GET", "/api/v1/technical-accounts"): "admin",
    ("POST", "/api/v1/technical-accounts"): "admin",
    ("GET", "/api/v1/technical-accounts/{account_id}"): "admin",
    ("PATCH", "/api/v1/technical-accounts/{account_id}"): "admin",
    ("DELETE", "/api/v1/technical-accounts/{account_id}"): "admin",
    ("POST", "/api/v1/technical-accounts/{account_id}/secrets"): "admin",
    ("DELETE", "/api/v1/technical-accounts/{account_id}/secrets/{secret_uuid}"): "admin",
    ("GET", "/api/v1/ims/signing-keys"): "admin",
    ("POST", "/api/v1/ims/signing-keys"): "admin",
    ("DELETE", "/api/v1/ims/signing-keys/{kid}"): "admin",
    ("POST", "/api/v1/reset"): "admin",
    ("GET", "/api/v1/clock"): "viewer",
    ("POST", "/api/v1/clock"): "admin",
}
#: Routes any authenticated operator may call, and the anonymous ones.
OPEN = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/session"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/environment"),
}
RANK = {"viewer": 0, "editor": 1, "admin": 2}


async def test_the_table_names_every_api_route(tmp_path: Path) -> None:
    async with control_cell(tmp_path, instances=1) as cell:
        paths = (await cell.control.get("/openapi.json")).json()["paths"]
        served = {
            (method.upper(), path)
            for path, operations in paths.items()
            if path.startswith("/api/")
            for method in operations
        }
    assert served == set(ROUTES) | OPEN


async def test_every_route_refuses_lower_roles_and_anonymous_callers(tmp_path: Path) -> None:
    async with control_cell(tmp_path, instances=1) as cell:
        admin = await cell.login()
        template = await make_template(cell, admin)
        values = {
            "{operator_id}": "1",
            "{account_id}": "1",
            "{event_type_id}": "1",
            "{template_id}": str(template["id"]),
            "{version}": "1",
            "{seed_id}": "1",
            "{token_id}": "1",
            "{secret_uuid}": "00000000-0000-0000-0000-000000000000",
            "{kid}": "no-such-key",
        }
        headers = {role: await cell.as_role(role) for role in ("viewer", "editor")}
        for (method, path), needed in ROUTES.items():
            for key, value in values.items():
                path = path.replace(key, value)
            anonymous = await cell.control.request(method, path, json={})
            assert anonymous.status_code == 401, (method, path)
            assert anonymous.json()["error"] == "unauthorized"
            for role, role_headers in headers.items():
                answer = await cell.control.request(method, path, json={}, headers=role_headers)
                if RANK[role] < RANK[needed]:
                    assert answer.status_code == 403, (role, method, path, answer.text)
                    assert answer.json()["error"] == "forbidden"
                    assert f"needs the {needed} role" in answer.json()["message"]
                else:
                    assert answer.status_code not in (401, 403), (role, method, path, answer.text)


async def test_what_a_viewer_and_an_editor_may_do(cell: Cell) -> None:
    admin = await cell.login()
    editor = await cell.as_role("editor")
    viewer = await cell.as_role("viewer")
    template = await make_template(cell, editor)
    tid = template["id"]
    assert (await cell.control.get(f"/api/v1/templates/{tid}", headers=viewer)).status_code == 200
    preview = await cell.control.post(
        f"/api/v1/templates/{tid}/preview",
        json={"ctx": "<ctx><firstName>Vi</firstName></ctx>"},
        headers=viewer,
    )
    assert preview.json()["fields"]["subject"] == "v1 for Vi"
    denied = await cell.control.post(f"/api/v1/templates/{tid}/publish", headers=viewer)
    assert denied.status_code == 403
    assert cell.route("http://exec-1.test", template["event_type"], 0) is None
    published = await cell.control.post(f"/api/v1/templates/{tid}/publish", headers=editor)
    assert published.status_code == 200
    sync = await cell.control.post("/api/v1/execution-instances/sync", headers=editor)
    assert sync.status_code == 403
    assert (
        await cell.control.post("/api/v1/execution-instances/sync", headers=admin)
    ).status_code == 200
