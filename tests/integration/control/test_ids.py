"""Ids in paths: out of the database's range they are refused, and plIds may be negative."""

from __future__ import annotations

from datetime import UTC, datetime

from control_instance.archive.service import store_page
from services.plid import make_pl_id
from tests.integration.control.conftest import Cell


async def test_ids_beyond_64_bits_are_refused_not_a_crash(cell: Cell) -> None:
    admin = await cell.login()
    for path in (
        "/api/v1/templates/99999999999999999999",
        "/api/v1/execution-instances/99999999999999999999",
        "/api/v1/templates/1/seeds/99999999999999999999",
        "/api/v1/events/99999999999999999999",
    ):
        answer = await cell.control.get(path, headers=admin)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["error"] == "invalid_request"


async def test_an_event_of_instance_200_is_archived_and_found_by_its_negative_id(
    cell: Cell,
) -> None:
    admin = await cell.login()
    pl_id = make_pl_id(200, 7)
    now = datetime.now(UTC).isoformat()
    item = {
        "pl_id": pl_id,
        "instance_id": 200,
        "event_type": "PASSWORD_RESET",
        "channel": 0,
        "queue": "rt",
        "status": 1,
        "email": "ann@example.com",
        "mobile_phone": "",
        "external_id": "",
        "document": "<rtEvent><ctx/></rtEvent>",
        "created_at": now,
        "updated_at": now,
        "processed_at": now,
        "failure_reason": None,
        "error": None,
    }
    db = cell.control_app.state.control.db
    assert store_page(db, 1, [item], "cursor") == 1
    found = await cell.control.get(f"/api/v1/events/{pl_id}", headers=admin)
    assert found.status_code == 200, found.text
    assert found.json()["pl_id"] == pl_id
    listed = await cell.control.get("/api/v1/events", params={"plId": pl_id}, headers=admin)
    assert [e["pl_id"] for e in listed.json()["items"]] == [pl_id]
