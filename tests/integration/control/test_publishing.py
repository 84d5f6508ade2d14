"""Publishing to every execution instance: versions, retries, rollback, unpublish, pause, sync."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import DatabaseTarget
from tests.integration.control.builders import make_event_type, make_template
from tests.integration.control.conftest import (
    UNKNOWN_EVENT,
    Cell,
    control_cell,
    exec_url,
    logon_status,
)

ONE, TWO = exec_url(1), exec_url(2)


async def _post(cell: Cell, path: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = await cell.control.post(path, json=body or None, headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_publish_reaches_every_instance_and_is_idempotent_by_version(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    tid = template["id"]
    assert template["state"] == "being_edited"
    assert cell.route(ONE, template["event_type"], 0) is None

    first = await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    assert first["complete"] is True
    assert first["version"] == 1
    assert [(o["ok"], o["changed"], o["instance_id"]) for o in first["instances"]] == [
        (True, True, 1),
        (True, True, 2),
    ]
    assert first["template"]["state"] == "published"
    assert first["template"]["has_unpublished_changes"] is False
    for url in (ONE, TWO):
        route = cell.route(url, template["event_type"], 0)
        assert route.name == template["name"]
        assert route.version == 1
        assert route.fields.fields["subject"].source == "v1 for <%= rtEvent.ctx.firstName %>"

    again = await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    assert again["version"] == 1
    assert [o["changed"] for o in again["instances"]] == [False, False]


async def test_an_edit_is_a_new_version_and_emptied_fields_propagate(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    tid = template["id"]
    await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    edited = await cell.control.patch(
        f"/api/v1/templates/{tid}",
        json={"content": {"subject": "v2 <%= rtEvent.ctx.firstName %>", "reply_to": ""}},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["state"] == "published"
    assert edited.json()["has_unpublished_changes"] is True
    assert cell.route(ONE, template["event_type"], 0).version == 1  # not until republished

    second = await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    assert second["version"] == 2
    for url in (ONE, TWO):
        fields = cell.route(url, template["event_type"], 0).fields.fields
        assert fields["subject"].source == "v2 <%= rtEvent.ctx.firstName %>"
        assert fields["reply_to"].source == ""  # emptied here, emptied there (not Campaign's quirk)
        assert fields["from_address"].source == "noreply@acme.test"


async def test_a_partial_failure_is_reported_and_a_retry_completes_it(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    tid = template["id"]
    cell.switches[TWO].down = True
    partial = await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    assert partial["complete"] is False
    ok, failed = partial["instances"]
    assert ok["ok"] is True
    assert failed["ok"] is False
    assert failed["url"] == TWO
    assert "cannot reach" in failed["error"]
    deployments = {d["account_id"]: d for d in partial["template"]["deployments"]}
    assert deployments[failed["account_id"]]["ok"] is False
    assert cell.route(TWO, template["event_type"], 0) is None

    cell.switches[TWO].down = False
    retried = await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    assert retried["complete"] is True
    assert retried["version"] == 1
    assert [o["changed"] for o in retried["instances"]] == [False, True]
    assert cell.route(TWO, template["event_type"], 0).version == 1


async def test_rollback_republishes_an_older_version_as_a_new_one(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    tid, event_type = template["id"], template["event_type"]
    await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    await cell.control.patch(
        f"/api/v1/templates/{tid}", json={"content": {"subject": "v2"}}, headers=admin
    )
    await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    assert cell.route(ONE, event_type, 0).fields.fields["subject"].source == "v2"

    rolled = await _post(cell, f"/api/v1/templates/{tid}/rollback", admin, version=1)
    assert rolled["version"] == 3
    assert rolled["template"]["content"]["subject"] == "v1 for <%= rtEvent.ctx.firstName %>"
    for url in (ONE, TWO):
        route = cell.route(url, event_type, 0)
        assert route.version == 3
        assert route.fields.fields["subject"].source == "v1 for <%= rtEvent.ctx.firstName %>"

    history = (await cell.control.get(f"/api/v1/templates/{tid}/versions", headers=admin)).json()
    assert [(v["version"], v["note"]) for v in history["items"]] == [
        (3, "rollback to version 1"),
        (2, "publish"),
        (1, "publish"),
    ]
    diff = await cell.control.get(
        f"/api/v1/templates/{tid}/versions/diff", params={"from": 2, "to": 3}, headers=admin
    )
    changed = {f["field"]: f for f in diff.json()["fields"] if f["changed"]}
    assert set(changed) == {"subject"}
    assert changed["subject"]["before"] == "v2"
    assert "+v1 for" in changed["subject"]["diff"]
    missing = await cell.control.post(
        f"/api/v1/templates/{tid}/rollback", json={"version": 9}, headers=admin
    )
    assert missing.status_code == 404


async def test_unpublish_removes_it_everywhere_and_returns_it_to_being_edited(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    tid = template["id"]
    await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    refused = await cell.control.delete(f"/api/v1/templates/{tid}", headers=admin)
    assert refused.status_code == 409
    assert "unpublish it first" in refused.json()["message"]

    result = await _post(cell, f"/api/v1/templates/{tid}/unpublish", admin)
    assert result["complete"] is True
    assert result["template"]["state"] == "being_edited"
    for url in (ONE, TWO):
        assert cell.route(url, template["event_type"], 0) is None
        # The event type stays: its events are accepted and fail routing.
        types = (await cell.mc(url, "GET", "/event-types")).json()
        assert template["event_type"] in types
    again = await cell.control.post(f"/api/v1/templates/{tid}/unpublish", headers=admin)
    assert again.status_code == 409
    assert (await cell.control.delete(f"/api/v1/templates/{tid}", headers=admin)).status_code == 204


async def test_pause_and_resume_everywhere(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    tid = template["id"]
    await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
    paused = await _post(cell, f"/api/v1/templates/{tid}/pause", admin)
    assert paused["template"]["state"] == "paused"
    for url in (ONE, TWO):
        assert cell.route(url, template["event_type"], 0).paused is True
    assert (
        await cell.control.post(f"/api/v1/templates/{tid}/pause", headers=admin)
    ).status_code == 409
    resumed = await _post(cell, f"/api/v1/templates/{tid}/resume", admin)
    assert resumed["template"]["state"] == "published"
    for url in (ONE, TWO):
        assert cell.route(url, template["event_type"], 0).paused is False


async def test_sync_brings_a_recovered_instance_up_to_date(cell: Cell) -> None:
    admin = await cell.login()
    kept = await make_template(cell, admin)
    dropped = await make_template(cell, admin)
    await _post(cell, f"/api/v1/templates/{kept['id']}/publish", admin)
    await _post(cell, f"/api/v1/templates/{dropped['id']}/publish", admin)
    lonely = await make_event_type(cell, admin)

    cell.switches[TWO].down = True
    await cell.control.patch(
        f"/api/v1/templates/{kept['id']}", json={"content": {"subject": "v2"}}, headers=admin
    )
    publish = await _post(cell, f"/api/v1/templates/{kept['id']}/publish", admin)
    assert publish["complete"] is False
    unpublish = await _post(cell, f"/api/v1/templates/{dropped['id']}/unpublish", admin)
    assert unpublish["complete"] is False
    types = (await cell.control.get("/api/v1/event-types", headers=admin)).json()["items"]
    lonely_id = next(t["id"] for t in types if t["name"] == lonely)
    deleted = await cell.control.delete(f"/api/v1/event-types/{lonely_id}", headers=admin)
    assert deleted.json()["complete"] is False
    token = await cell.control.post("/api/v1/technical-tokens", json={"label": "ci"}, headers=admin)
    operator = await cell.control.post(
        "/api/v1/execution-operators",
        json={"login": "website", "password": "w3bsite!"},
        headers=admin,
    )
    assert token.json()["complete"] is False
    assert operator.json()["complete"] is False
    assert cell.route(TWO, kept["event_type"], 0).version == 1
    assert cell.route(TWO, dropped["event_type"], 0) is not None

    failed_sync = await cell.control.post("/api/v1/execution-instances/sync", headers=admin)
    assert [o["ok"] for o in failed_sync.json()] == [True, False]

    cell.switches[TWO].down = False
    accounts = (await cell.control.get("/api/v1/execution-instances", headers=admin)).json()
    two = next(a for a in accounts["items"] if a["url"] == TWO)
    synced = await cell.control.post(f"/api/v1/execution-instances/{two['id']}/sync", headers=admin)
    assert synced.status_code == 200, synced.text
    outcome = synced.json()
    assert outcome["ok"] is True
    assert outcome["templates_changed"] == 1
    assert outcome["templates_removed"] == 1
    route = cell.route(TWO, kept["event_type"], 0)
    assert route.version == 2
    assert route.fields.fields["subject"].source == "v2"
    assert cell.route(TWO, dropped["event_type"], 0) is None
    assert lonely not in (await cell.mc(TWO, "GET", "/event-types")).json()
    bearer = {"authorization": f"Bearer {token.json()['token']}"}
    assert (await cell.instances[TWO].get(UNKNOWN_EVENT, headers=bearer)).status_code == 404
    assert await logon_status(cell.instances[TWO], "website", "w3bsite!") == 200
    account = await cell.control.get(f"/api/v1/execution-instances/{two['id']}", headers=admin)
    assert account.json()["last_synced_at"] is not None

    again = await cell.control.post(f"/api/v1/execution-instances/{two['id']}/sync", headers=admin)
    assert again.json()["templates_changed"] == 0
    assert again.json()["templates_removed"] == 0


async def test_publishing_and_history_on_each_database(
    tmp_path: Path, database_target: DatabaseTarget
) -> None:
    async with control_cell(
        tmp_path,
        database_url=database_target.url,
        database_schema=database_target.schema,
    ) as cell:
        admin = await cell.login()
        template = await make_template(cell, admin)
        tid = template["id"]
        await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
        await cell.control.patch(
            f"/api/v1/templates/{tid}", json={"content": {"subject": "v2"}}, headers=admin
        )
        await _post(cell, f"/api/v1/templates/{tid}/publish", admin)
        rolled = await _post(cell, f"/api/v1/templates/{tid}/rollback", admin, version=1)
        assert rolled["version"] == 3
        assert [d["version"] for d in rolled["template"]["deployments"]] == [3, 3]
        history = await cell.control.get(f"/api/v1/templates/{tid}/versions", headers=admin)
        assert history.json()["total"] == 3
