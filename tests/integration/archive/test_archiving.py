"""Archiving pulls every instance's events and outcomes into the control instance's history."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from execution_instance.intake.channels import EventStatus, Queue
from tests.integration.archive.helpers import finish, hand_over, instance, push
from tests.integration.control.conftest import Cell, control_cell, exec_url


async def archive(cell: Cell, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Run one archiving pass through the API; return the outcomes by instance name."""
    answer = await cell.control.post("/api/v1/events/archive", headers=headers)
    assert answer.status_code == 200, answer.text
    return {outcome["name"]: outcome for outcome in answer.json()}


async def history(cell: Cell, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    """Search the archived history."""
    answer = await cell.control.get("/api/v1/events", params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_events_of_both_instances_are_archived_in_every_status(cell: Cell) -> None:
    admin = await cell.login()
    sent, routing, waiting = await push(cell, 1, count=3)
    (batch,) = await push(cell, 2, queue=Queue.BATCH, event_type="PASSWORD_RESET")
    hand_over(cell, 1, [sent])
    finish(cell, 1, [sent], EventStatus.PROCESSED)
    finish(cell, 1, [routing], EventStatus.ROUTING_FAILED)

    outcomes = await archive(cell, admin)
    assert {name: o["archived"] for name, o in outcomes.items()} == {"exec1": 3, "exec2": 1}
    assert all(o["ok"] for o in outcomes.values())

    page = await history(cell, admin)
    assert page["total"] == 4
    by_id = {item["pl_id"]: item for item in page["items"]}
    assert by_id[sent]["status_name"] == "processed"
    assert by_id[sent]["processing_at"] is not None
    assert by_id[sent]["delivery_part"] == "part-1"
    assert by_id[routing]["status_name"] == "routingFailed"
    assert by_id[waiting]["status_name"] == "pending"
    assert by_id[batch]["queue"] == "batch"
    assert by_id[batch]["instance_id"] == 2
    assert by_id[sent]["instance_id"] == 1

    assert [i["pl_id"] for i in (await history(cell, admin, status="processed"))["items"]] == [sent]
    assert [i["pl_id"] for i in (await history(cell, admin, status="5"))["items"]] == [routing]
    assert [i["pl_id"] for i in (await history(cell, admin, type="PASSWORD_RESET"))["items"]] == [
        batch
    ]
    assert [i["pl_id"] for i in (await history(cell, admin, instance=2))["items"]] == [batch]
    email = by_id[waiting]["email"]
    assert [i["pl_id"] for i in (await history(cell, admin, email=email))["items"]] == [waiting]
    external = by_id[sent]["external_id"]
    assert [i["pl_id"] for i in (await history(cell, admin, external_id=external))["items"]] == [
        sent
    ]
    assert [i["pl_id"] for i in (await history(cell, admin, plId=routing))["items"]] == [routing]
    assert (await history(cell, admin, since="2999-01-01T00:00:00Z"))["total"] == 0
    bad = await cell.control.get("/api/v1/events", params={"status": "lost"}, headers=admin)
    assert bad.status_code == 400

    detail = await cell.control.get(f"/api/v1/events/{sent}", headers=admin)
    assert detail.status_code == 200
    assert "<ctx>" in detail.json()["document"]
    missing = await cell.control.get(f"/api/v1/events/{sent + 999}", headers=admin)
    assert missing.status_code == 404


async def test_a_second_pass_adds_only_new_changes(cell: Cell) -> None:
    admin = await cell.login()
    await push(cell, 1, count=2)
    await push(cell, 2, count=1)
    first = await archive(cell, admin)
    assert (first["exec1"]["archived"], first["exec2"]["archived"]) == (2, 1)

    again = await archive(cell, admin)  # re-reads the overlap, writes nothing
    assert (again["exec1"]["archived"], again["exec2"]["archived"]) == (0, 0)
    assert again["exec1"]["cursor"] == first["exec1"]["cursor"]

    (new,) = await push(cell, 2)
    third = await archive(cell, admin)
    assert (third["exec1"]["archived"], third["exec2"]["archived"]) == (0, 1)
    assert (await history(cell, admin))["total"] == 4
    assert (await history(cell, admin, instance=2))["items"][0]["pl_id"] == new


async def test_status_changes_after_archiving_are_picked_up(cell: Cell) -> None:
    admin = await cell.login()
    failed, delivered = await push(cell, 1, count=2)
    await archive(cell, admin)
    assert (await history(cell, admin, status="pending"))["total"] == 2

    hand_over(cell, 1, [failed, delivered])
    changed = await archive(cell, admin)
    assert changed["exec1"]["archived"] == 2
    assert (await history(cell, admin, status="processing"))["total"] == 2

    finish(cell, 1, [failed], EventStatus.DELIVERY_FAILED)
    finish(cell, 1, [delivered], EventStatus.PROCESSED)
    await archive(cell, admin)
    detail = (await cell.control.get(f"/api/v1/events/{failed}", headers=admin)).json()
    assert detail["status_name"] == "deliveryFailed"
    assert detail["error_text"] == "x"
    assert (await history(cell, admin, status="processed"))["total"] == 1


async def test_archiving_catches_up_after_an_instance_was_down(cell: Cell) -> None:
    admin = await cell.login()
    await push(cell, 2, count=1)
    await archive(cell, admin)
    cell.switches[exec_url(2)].down = True
    missed = await push(cell, 2, count=3)
    down = await archive(cell, admin)
    assert down["exec2"]["ok"] is False
    assert "cannot reach" in down["exec2"]["error"]
    assert down["exec1"]["ok"] is True

    cell.switches[exec_url(2)].down = False
    back = await archive(cell, admin)
    assert back["exec2"]["ok"] is True
    assert back["exec2"]["archived"] == 3
    archived = {i["pl_id"] for i in (await history(cell, admin, instance=2))["items"]}
    assert set(missed) <= archived


async def test_archiving_resumes_from_its_cursor_after_the_control_instance_restarts(
    tmp_path: Path,
) -> None:
    async with control_cell(tmp_path, archive_interval_seconds=0) as cell:
        admin = await cell.login()
        await push(cell, 1, count=2)
        first = await archive(cell, admin)
        assert first["exec1"]["archived"] == 2
    async with control_cell(tmp_path, archive_interval_seconds=0) as cell:
        admin = await cell.login()
        (new,) = await push(cell, 1)
        resumed = await archive(cell, admin)
        assert resumed["exec1"]["archived"] == 1  # only the change made since the last pass
        assert resumed["exec1"]["cursor"] > first["exec1"]["cursor"]
        assert (await history(cell, admin))["total"] == 3
        assert (await cell.control.get(f"/api/v1/events/{new}", headers=admin)).status_code == 200


async def test_small_pages_walk_every_event(tmp_path: Path) -> None:
    async with control_cell(tmp_path, archive_interval_seconds=0, archive_page_size=2) as cell:
        admin = await cell.login()
        pushed = await push(cell, 1, count=5)
        outcome = await archive(cell, admin)
        assert outcome["exec1"]["archived"] == 5
        archived = {i["pl_id"] for i in (await history(cell, admin, instance=1))["items"]}
        assert archived == set(pushed)


async def test_a_quiet_cell_is_not_read_again_once_its_changes_are_older_than_the_overlap(
    tmp_path: Path,
) -> None:
    # Before, every pass re-read the overlap before the cursor: after a burst, the burst's last
    # seconds were read again every 5 s for as long as the cell stayed quiet.
    async with control_cell(
        tmp_path, archive_interval_seconds=0, archive_overlap_seconds=0.3
    ) as cell:
        admin = await cell.login()
        await push(cell, 1, count=20)
        first = await archive(cell, admin)
        assert (first["exec1"]["read"], first["exec1"]["archived"]) == (20, 20)
        await asyncio.sleep(0.4)
        # This pass guards the one before it: a change stamped before that one read, committed
        # after, would be in its overlap. It writes nothing new.
        guard = await archive(cell, admin)
        assert guard["exec1"]["archived"] == 0
        quiet = await archive(cell, admin)  # nothing changed in the overlap of the last read
        assert (quiet["exec1"]["read"], quiet["exec1"]["archived"]) == (0, 0)
        assert quiet["exec1"]["cursor"] == first["exec1"]["cursor"]
        (new,) = await push(cell, 1)
        after = await archive(cell, admin)
        assert (after["exec1"]["read"], after["exec1"]["archived"]) == (1, 1)
        assert (await history(cell, admin, instance=1))["items"][0]["pl_id"] == new


async def test_the_background_loop_archives_on_its_interval(tmp_path: Path) -> None:
    async with control_cell(tmp_path, archive_interval_seconds=0.05) as cell:
        admin = await cell.login()
        (pl_id,) = await push(cell, 1)
        for _ in range(100):
            if (await history(cell, admin))["total"] == 1:
                break
            await asyncio.sleep(0.05)
        assert [i["pl_id"] for i in (await history(cell, admin))["items"]] == [pl_id]


async def test_roles_viewer_reads_only_admin_archives(cell: Cell) -> None:
    (pl_id,) = await push(cell, 1)
    await archive(cell, await cell.login())
    viewer = await cell.as_role("viewer")
    assert (await history(cell, viewer))["total"] == 1
    assert (await cell.control.get(f"/api/v1/events/{pl_id}", headers=viewer)).status_code == 200
    refused = await cell.control.post("/api/v1/events/archive", headers=viewer)
    assert refused.status_code == 403
    assert (await cell.control.get("/api/v1/events")).status_code == 401


async def test_the_mc_events_cursor_follows_every_writer(cell: Cell) -> None:
    (pl_id,) = await push(cell, 1)
    first = (await cell.mc(exec_url(1), "GET", "/events", params={"limit": 10})).json()
    assert [i["pl_id"] for i in first["items"]] == [pl_id]
    assert first["more"] is False
    cursor = first["next_cursor"]
    empty = (await cell.mc(exec_url(1), "GET", "/events", params={"cursor": cursor})).json()
    assert empty["items"] == [] and empty["next_cursor"] == cursor

    await asyncio.sleep(0.01)  # a later updated_at than the cursor's
    hand_over(cell, 1, [pl_id])
    moved = (await cell.mc(exec_url(1), "GET", "/events", params={"cursor": cursor})).json()
    assert [(i["pl_id"], i["status_name"]) for i in moved["items"]] == [(pl_id, "processing")]

    bad = await cell.mc(exec_url(1), "GET", "/events", params={"cursor": "yesterday"})
    assert bad.status_code == 400
    anonymous = await cell.instances[exec_url(1)].get("/_mc/events")
    assert anonymous.status_code == 401
    assert instance(cell, 1).settings.instance_id == 1


async def test_history_pages_are_newest_first_without_gaps_or_repeats(cell: Cell) -> None:
    """The page is found on the indexes, then read by plId: the rows must come back in the
    search's order (newest first, then highest plId), a filter's total must be its own, and
    consecutive pages must neither repeat nor skip an event."""
    admin = await cell.login()
    first = await push(cell, 1, count=4)
    second = await push(cell, 2, count=3)
    finish(cell, 1, first[:2], EventStatus.ROUTING_FAILED)
    await archive(cell, admin)

    everything = await history(cell, admin, limit=500)
    assert everything["total"] == 7
    order = [(item["created_at"], item["pl_id"]) for item in everything["items"]]
    assert order == sorted(order, reverse=True)
    walked = []
    for offset in range(0, 9, 3):
        page = await history(cell, admin, limit=3, offset=offset)
        assert page["total"] == 7
        walked += [item["pl_id"] for item in page["items"]]
    assert walked == [item["pl_id"] for item in everything["items"]]
    assert sorted(walked) == sorted(first + second)

    failed = await history(cell, admin, status="routingFailed", limit=1, offset=1)
    assert failed["total"] == 2
    assert [item["pl_id"] for item in failed["items"]] == [min(first[:2])]
    beyond = await history(cell, admin, instance=2, offset=3)
    assert (beyond["total"], beyond["items"]) == (3, [])
