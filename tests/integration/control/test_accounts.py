"""Execution instances as accounts: write-only encrypted passwords, test, initialize, enable."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from control_instance.tables import Account
from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from services.dev_credentials import CONTROL_PLANE
from tests.integration.control.builders import make_template
from tests.integration.control.conftest import Cell, control_cell, exec_url
from tests.support.asgi import serve
from tests.support.soap import outputs_of, push_event_envelope


async def test_instances_from_the_settings_are_registered_and_initialized(cell: Cell) -> None:
    admin = await cell.login()
    accounts = (await cell.control.get("/api/v1/execution-instances", headers=admin)).json()
    assert accounts["total"] == 2
    assert [(a["name"], a["url"], a["instance_id"]) for a in accounts["items"]] == [
        ("exec1", exec_url(1), 1),
        ("exec2", exec_url(2), 2),
    ]
    assert all("password" not in account for account in accounts["items"])


async def test_the_password_is_stored_encrypted_and_never_returned(cell: Cell) -> None:
    admin = await cell.login()
    created = await cell.control.post(
        "/api/v1/execution-instances",
        json={"name": "exec9", "url": exec_url(1), "password": "s3cret-pa55"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert "s3cret-pa55" not in created.text
    account_id = created.json()["id"]
    listed = await cell.control.get("/api/v1/execution-instances", headers=admin)
    one = await cell.control.get(f"/api/v1/execution-instances/{account_id}", headers=admin)
    assert "s3cret-pa55" not in listed.text + one.text
    db = cell.control_app.state.control.db
    with db.transaction() as session:
        stored = session.execute(
            select(Account.password_secret).where(Account.id == account_id)
        ).scalar_one()
    assert stored.startswith("v1:")
    assert "s3cret-pa55" not in stored
    openapi = (await cell.control.get("/openapi.json")).json()
    public = openapi["components"]["schemas"]["AccountPublic"]["properties"]
    assert "password" not in public


async def test_test_connection_reports_success_and_each_kind_of_failure(cell: Cell) -> None:
    admin = await cell.login()
    tested = await cell.control.post("/api/v1/execution-instances/1/test", headers=admin)
    assert tested.status_code == 200
    body = tested.json()
    assert body["ok"] is True
    assert body["instance_id"] == 1
    assert body["pending_events"] == 0

    await cell.control.patch(
        "/api/v1/execution-instances/1", json={"password": "wrong"}, headers=admin
    )
    refused = (await cell.control.post("/api/v1/execution-instances/1/test", headers=admin)).json()
    assert refused["ok"] is False
    assert refused["error"].startswith("HTTP 401")
    account = (await cell.control.get("/api/v1/execution-instances/1", headers=admin)).json()
    assert account["last_check_ok"] is False
    assert account["last_error"].startswith("HTTP 401")

    cell.switches[exec_url(2)].down = True
    down = (await cell.control.post("/api/v1/execution-instances/2/test", headers=admin)).json()
    assert down["ok"] is False
    assert "cannot reach" in down["error"]


async def test_initialize_refuses_an_id_another_account_holds(cell: Cell) -> None:
    admin = await cell.login()
    twin = await cell.control.post(
        "/api/v1/execution-instances",
        json={"name": "twin", "url": exec_url(2) + "/", "password": CONTROL_PLANE[1]},
        headers=admin,
    )
    assert twin.json()["instance_id"] is None
    conflict = await cell.control.post(
        f"/api/v1/execution-instances/{twin.json()['id']}/initialize", headers=admin
    )
    assert conflict.status_code == 409
    assert conflict.json()["message"] == f"account 'exec2' already points at {exec_url(2)}"
    await cell.control.delete("/api/v1/execution-instances/2", headers=admin)
    done = await cell.control.post(
        f"/api/v1/execution-instances/{twin.json()['id']}/initialize", headers=admin
    )
    assert done.status_code == 200
    assert done.json()["instance_id"] == 2


async def test_initialize_fails_clearly_when_the_instance_is_down(cell: Cell) -> None:
    admin = await cell.login()
    cell.switches[exec_url(1)].down = True
    failed = await cell.control.post("/api/v1/execution-instances/1/initialize", headers=admin)
    assert failed.status_code == 502
    assert "cannot reach" in failed.json()["detail"]


async def test_a_disabled_instance_receives_nothing(cell: Cell) -> None:
    admin = await cell.login()
    await cell.control.patch(
        "/api/v1/execution-instances/2", json={"enabled": False}, headers=admin
    )
    template = await make_template(cell, admin)
    published = await cell.control.post(
        f"/api/v1/templates/{template['id']}/publish", headers=admin
    )
    assert [o["name"] for o in published.json()["instances"]] == ["exec1"]
    assert cell.route(exec_url(2), template["event_type"], 0) is None
    assert cell.switches[exec_url(2)].calls[-1] == "GET /_mc/info"  # only the start-up check
    synced = await cell.control.post("/api/v1/execution-instances/2/sync", headers=admin)
    assert synced.json()["ok"] is True
    assert cell.route(exec_url(2), template["event_type"], 0) is not None


async def test_bad_input_gets_the_one_error_shape(cell: Cell) -> None:
    admin = await cell.login()
    bad = await cell.control.post(
        "/api/v1/execution-instances",
        json={"name": "x y", "url": "ftp://nope", "password": "p"},
        headers=admin,
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"error", "message", "detail", "field"}
    assert bad.json()["error"] == "invalid_request"
    missing = await cell.control.get("/api/v1/execution-instances/99", headers=admin)
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "no execution instance account 99"}


async def test_initialize_gives_an_instance_sharing_an_id_a_free_one(tmp_path: Path) -> None:
    async with control_cell(tmp_path, instance_ids=[1, 1]) as cell:
        admin = await cell.login()
        accounts = (await cell.control.get("/api/v1/execution-instances", headers=admin)).json()
        assert {a["url"]: a["instance_id"] for a in accounts["items"]} == {
            exec_url(1): 1,
            exec_url(2): 2,
        }
        second = cell.instances[exec_url(2)]
        assert (await second.get("/health")).json()["instance_id"] == 2
        assert (await cell.mc(exec_url(2), "GET", "/info")).json()["instance_id"] == 2
        # the new id is in the plIds it returns
        await cell.mc(exec_url(2), "PUT", "/event-types/PASSWORD_RESET", json={"label": "r"})
        answer = await second.post(
            "/nl/jsp/soaprouter.jsp",
            content=push_event_envelope(),
            headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvent"},
        )
        assert answer.status_code == 200, answer.text
        (pl_id,) = outputs_of(answer.content, "plId")
        assert int(pl_id) >> 56 == 2
        # initializing again changes nothing
        again = await cell.control.post("/api/v1/execution-instances/2/initialize", headers=admin)
        assert again.status_code == 200 and again.json()["instance_id"] == 2

        # an instance holding events keeps its id: their plIds carry it
        refused = await cell.mc(exec_url(2), "PUT", "/instance-id", json={"instance_id": 9})
        assert refused.status_code == 409
        assert refused.json()["message"] == (
            "execution instance 2 already holds events: its id cannot become 9"
        )
        assert (await second.get("/health")).json()["instance_id"] == 2
        out_of_range = await cell.mc(exec_url(2), "PUT", "/instance-id", json={"instance_id": 256})
        assert out_of_range.status_code == 400

    # the assigned id outlives a restart (it is kept in the instance's database)
    restarted = create_execution(
        ExecutionSettings(instance_id=1, data_dir=tmp_path / "exec-2", workers=0)
    )
    async with serve(restarted) as client:
        assert (await client.get("/health")).json()["instance_id"] == 2


async def test_a_new_url_needs_the_password_again(cell: Cell) -> None:
    """Security review F11: the stored password followed a URL change to any listener."""
    admin = await cell.login()
    moved = await cell.control.patch(
        "/api/v1/execution-instances/1", json={"url": "http://listener.test"}, headers=admin
    )
    assert moved.status_code == 400
    assert moved.json()["field"] == "password"
    account = (await cell.control.get("/api/v1/execution-instances/1", headers=admin)).json()
    assert account["url"] == exec_url(1)
    calls = len(cell.switches[exec_url(1)].calls)
    tested = await cell.control.post("/api/v1/execution-instances/1/test", headers=admin)
    assert tested.json()["ok"] is True  # still the old URL, with the stored password
    assert len(cell.switches[exec_url(1)].calls) == calls + 1
    with_password = await cell.control.patch(
        "/api/v1/execution-instances/1",
        json={"url": exec_url(1) + "/", "label": "same URL needs nothing"},
        headers=admin,
    )
    assert with_password.status_code == 200
    renamed = await cell.control.patch(
        "/api/v1/execution-instances/1",
        json={"url": exec_url(2), "password": CONTROL_PLANE[1]},
        headers=admin,
    )
    assert renamed.status_code == 200
    assert renamed.json()["url"] == exec_url(2)


async def test_integers_beyond_64_bits_are_400s_not_500s(cell: Cell) -> None:
    """Security review F7: offsets and ids past SQLite's 64-bit integers were bare 500s."""
    admin = await cell.login()
    huge = str(10**20)
    for path, params in [
        ("/api/v1/templates", {"offset": huge}),
        ("/api/v1/operators", {"offset": huge}),
        ("/api/v1/execution-instances", {"offset": huge}),
        ("/api/v1/events", {"channel": huge}),
        ("/api/v1/templates/1/versions/diff", {"from": huge}),
        (f"/api/v1/templates/{huge}", {}),
    ]:
        answer = await cell.control.get(path, params=params, headers=admin)
        assert answer.status_code == 400, (path, answer.status_code, answer.text)
        assert answer.json()["error"] == "invalid_request", answer.text
