"""Templates, seed addresses, preview and proof: errors carry their line; proofs are marked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from control_instance.tables import ArchivedEvent
from tests.integration.control.builders import make_event_type, make_template
from tests.integration.control.conftest import Cell

ORDER_CTX = (
    "<ctx><firstName>Ann</firstName><orderId>A-7</orderId>"
    '<item name="Mug" qty="2" price="3.50"/><item name="Tea" qty="1" price="4.00"/></ctx>'
)


async def _seed(cell: Cell, headers: dict[str, str], tid: int, **body: Any) -> dict[str, Any]:
    answer = await cell.control.post(f"/api/v1/templates/{tid}/seeds", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    seed: dict[str, Any] = answer.json()
    return seed


async def test_a_syntax_error_is_refused_at_save_with_its_field_and_line(cell: Cell) -> None:
    admin = await cell.login()
    event_type = await make_event_type(cell, admin)
    broken = await cell.control.post(
        "/api/v1/templates",
        json={
            "event_type": event_type,
            "channel": "sms",
            "content": {"text": "Hello\n<% if (rtEvent.ctx.a) { %>\nyes\n"},
        },
        headers=admin,
    )
    assert broken.status_code == 400
    body = broken.json()
    assert body["error"] == "template_syntax_error"
    assert body["field"] == "text"
    assert "line 2" in body["message"]
    unknown = await cell.control.post(
        "/api/v1/templates",
        json={"event_type": event_type, "channel": "sms", "content": {"subject": "x"}},
        headers=admin,
    )
    assert unknown.status_code == 400
    assert "unknown field(s) subject" in unknown.json()["message"]
    no_type = await cell.control.post(
        "/api/v1/templates", json={"event_type": "NOPE", "channel": "sms"}, headers=admin
    )
    assert no_type.status_code == 404
    assert no_type.json()["field"] == "event_type"
    assert (await cell.control.get("/api/v1/templates", headers=admin)).json()["total"] == 0


async def test_templates_are_named_after_event_type_and_channel_and_filterable(cell: Cell) -> None:
    admin = await cell.login()
    event_type = await make_event_type(cell, admin)
    sms = await make_template(cell, admin, channel="sms", event_type=event_type, content={})
    assert sms["name"] == f"{event_type}_sms"
    assert sms["content"] == {"text": ""}
    assert sms["channel_code"] == 1
    await make_template(cell, admin, channel="ios", event_type=event_type, content={})
    listed = await cell.control.get(
        "/api/v1/templates", params={"channel": "ios", "event_type": event_type}, headers=admin
    )
    assert [t["channel"] for t in listed.json()["items"]] == ["ios"]
    page = await cell.control.get("/api/v1/templates", params={"limit": 1}, headers=admin)
    assert page.json()["total"] == 2
    assert len(page.json()["items"]) == 1
    again = await cell.control.post(
        "/api/v1/templates", json={"event_type": event_type, "channel": "sms"}, headers=admin
    )
    assert again.status_code == 409


async def test_a_malformed_seed_ctx_is_refused_with_its_line(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    bad = await cell.control.post(
        f"/api/v1/templates/{template['id']}/seeds",
        json={
            "label": "Ann",
            "address": "ann@example.com",
            "ctx": "<ctx>\n  <firstName>Ann</firstName>\n  <orderId>1</order>\n</ctx>",
        },
        headers=admin,
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["error"] == "malformed_xml"
    assert body["field"] == "ctx"
    assert "line 3" in body["message"]
    wrong_root = await cell.control.post(
        f"/api/v1/templates/{template['id']}/seeds",
        json={"label": "Ann", "address": "ann@example.com", "ctx": "<context/>"},
        headers=admin,
    )
    assert wrong_root.status_code == 400
    assert "<ctx> as its root" in wrong_root.json()["message"]
    hostile = await cell.control.post(
        f"/api/v1/templates/{template['id']}/seeds",
        json={
            "label": "x",
            "address": "ann@example.com",
            "ctx": '<!DOCTYPE ctx [<!ENTITY e "boom">]><ctx>&e;</ctx>',
        },
        headers=admin,
    )
    assert hostile.status_code == 400
    not_email = await cell.control.post(
        f"/api/v1/templates/{template['id']}/seeds",
        json={"label": "x", "address": "+33600000000"},
        headers=admin,
    )
    assert not_email.status_code == 400
    assert not_email.json()["field"] == "address"


async def test_preview_renders_with_a_seed_as_an_instance_would(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(
        cell,
        admin,
        content={
            "subject": "Order <%= rtEvent.ctx.orderId %> for <%= rtEvent.email %>",
            "text": "<% for each (var item in rtEvent.ctx.item) { %>"
            "<%= item.@name %> x<%= item.@qty %>;<% } %> ref <%= rtEvent.externalId %>",
        },
    )
    tid = template["id"]
    seed = await _seed(
        cell, admin, tid, label="Ann", address="ann@example.com", external_id="C-9", ctx=ORDER_CTX
    )
    await _seed(cell, admin, tid, label="Bob", address="bob@example.com", ctx="<ctx/>")
    preview = await cell.control.post(
        f"/api/v1/templates/{tid}/preview", json={"seed_id": seed["id"]}, headers=admin
    )
    assert preview.status_code == 200, preview.text
    out = preview.json()
    assert out["to"] == "ann@example.com"
    assert out["seed"] == "Ann"
    assert out["fields"]["subject"] == "Order A-7 for ann@example.com"
    assert out["fields"]["text"] == "Mug x2;Tea x1; ref C-9"
    unsaved = await cell.control.post(
        f"/api/v1/templates/{tid}/preview",
        json={"seed_id": seed["id"], "content": {"subject": "<%= rtEvent.ctx.firstName %>!"}},
        headers=admin,
    )
    assert unsaved.json()["fields"]["subject"] == "Ann!"
    assert (
        (await cell.control.get(f"/api/v1/templates/{tid}", headers=admin))
        .json()["content"]["subject"]
        .startswith("Order")
    )


async def test_preview_errors_carry_their_line(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin, channel="sms", content={"text": "ok"})
    tid = template["id"]
    runtime = await cell.control.post(
        f"/api/v1/templates/{tid}/preview",
        json={"content": {"text": "one\ntwo\n<%= missing.thing %>"}, "ctx": "<ctx/>"},
        headers=admin,
    )
    assert runtime.status_code == 400
    assert runtime.json()["error"] == "template_runtime_error"
    assert "line 3" in runtime.json()["message"]
    syntax = await cell.control.post(
        f"/api/v1/templates/{tid}/preview",
        json={"content": {"text": "a\n<%= ( %>"}, "ctx": "<ctx/>"},
        headers=admin,
    )
    assert syntax.status_code == 400
    assert "line 2" in syntax.json()["message"]
    bad_ctx = await cell.control.post(
        f"/api/v1/templates/{tid}/preview", json={"ctx": "<ctx>\n<a></b></ctx>"}, headers=admin
    )
    assert bad_ctx.status_code == 400
    assert "line 2" in bad_ctx.json()["message"]


async def test_push_data_must_render_to_a_json_object(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(
        cell, admin, channel="android", content={"title": "t", "body": "b", "data": "[1, 2]"}
    )
    refused = await cell.control.post(
        f"/api/v1/templates/{template['id']}/preview", json={"ctx": "<ctx/>"}, headers=admin
    )
    assert refused.status_code == 400
    assert refused.json()["field"] == "data"


async def test_a_proof_goes_to_every_seed_through_mid_sourcing_marked_as_proof(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(cell, admin)
    tid = template["id"]
    no_seed = await cell.control.post(f"/api/v1/templates/{tid}/proof", json={}, headers=admin)
    assert no_seed.status_code == 400
    ann = await _seed(cell, admin, tid, label="Ann", address="ann@example.com", ctx=ORDER_CTX)
    await _seed(
        cell,
        admin,
        tid,
        label="Bob",
        address="bob@example.com",
        ctx="<ctx><firstName>Bob</firstName></ctx>",
    )
    sent = await cell.control.post(f"/api/v1/templates/{tid}/proof", json={}, headers=admin)
    assert sent.status_code == 200, sent.text
    messages = sent.json()["messages"]
    assert [m["to"] for m in messages] == ["ann@example.com", "bob@example.com"]
    assert len({m["message_id"] for m in messages}) == 2
    for entry in messages:
        received = cell.mid.messages[entry["message_id"]]
        assert received.proof is True
        assert received.event_id == 0
        assert received.event_type == template["event_type"]
        assert received.from_address == "noreply@acme.test"
    assert cell.mid.messages[messages[1]["message_id"]].subject == "v1 for Bob"
    assert sent.json()["part_id"] in cell.mid.parts

    audit = await cell.control.get(f"/api/v1/templates/{tid}/proofs", headers=admin)
    assert [(p["seed"], p["sent_by"]) for p in audit.json()["items"]] == [
        ("Bob", "admin"),
        ("Ann", "admin"),
    ]
    assert {p["message_id"] for p in audit.json()["items"]} == {m["message_id"] for m in messages}
    only_ann = await cell.control.post(
        f"/api/v1/templates/{tid}/proof", json={"seed_ids": [ann["id"]]}, headers=admin
    )
    assert [m["seed"] for m in only_ann.json()["messages"]] == ["Ann"]
    cell.mid.down = True
    down = await cell.control.post(f"/api/v1/templates/{tid}/proof", json={}, headers=admin)
    assert down.status_code == 502
    assert "mid-sourcing" in down.json()["message"]


async def test_seed_addresses_can_be_edited_and_deleted(cell: Cell) -> None:
    admin = await cell.login()
    template = await make_template(
        cell, admin, channel="sms", content={"text": "<%= rtEvent.ctx.n %>"}
    )
    tid = template["id"]
    seed = await _seed(
        cell, admin, tid, label="Phone", address="+447700900123", ctx="<ctx><n>1</n></ctx>"
    )
    changed = await cell.control.patch(
        f"/api/v1/templates/{tid}/seeds/{seed['id']}",
        json={"ctx": "<ctx><n>2</n></ctx>"},
        headers=admin,
    )
    assert changed.json()["ctx"] == "<ctx><n>2</n></ctx>"
    preview = await cell.control.post(f"/api/v1/templates/{tid}/preview", json={}, headers=admin)
    assert preview.json()["fields"]["text"] == "2"
    seeds = await cell.control.get(f"/api/v1/templates/{tid}/seeds", headers=admin)
    assert seeds.json()["total"] == 1
    gone = await cell.control.delete(f"/api/v1/templates/{tid}/seeds/{seed['id']}", headers=admin)
    assert gone.status_code == 204
    assert (
        await cell.control.get(f"/api/v1/templates/{tid}/seeds/{seed['id']}", headers=admin)
    ).status_code == 404


async def test_sms_seeds_are_e164_numbers(cell: Cell) -> None:
    """A seed of an SMS template is an international number (E.164), stored without the
    spaces and dashes it was typed with; a national or malformed number is refused in words."""
    admin = await cell.login()
    template = await make_template(cell, admin, channel="sms", content={"text": "Hi"})
    url = f"/api/v1/templates/{template['id']}/seeds"
    typed = await cell.control.post(
        url, json={"label": "UK phone", "address": " +44 (0)7700-900 123 "}, headers=admin
    )
    assert typed.status_code == 400  # "(0)" is no part of an E.164 number
    typed = await cell.control.post(
        url, json={"label": "UK phone", "address": " +44 7700-900 123 "}, headers=admin
    )
    assert typed.status_code == 201, typed.text
    assert typed.json()["address"] == "+447700900123"
    for wrong in ("07700 900123", "+0447700900123", "+44", "+4477009001234567", "+44 77OO"):
        refused = await cell.control.post(
            url, json={"label": f"bad {wrong}", "address": wrong}, headers=admin
        )
        assert refused.status_code == 400, (wrong, refused.text)
        assert refused.json()["field"] == "address"
        assert "E.164" in refused.json()["message"]


async def test_a_template_previews_with_an_archived_events_data(cell: Cell) -> None:
    """Issue 18: preview with what a website really sent (an archived event's address,
    externalId and ctx) instead of a seed; an unknown plId is refused on its field."""
    admin = await cell.login()
    template = await make_template(
        cell,
        admin,
        content={
            "subject": "Hi <%= rtEvent.ctx.firstName %>, order <%= rtEvent.externalId %>",
            "html": "<p>For <%= rtEvent.email %></p>",
            "text": "x",
            "from_address": "shop@acme.test",
        },
    )
    now = datetime.now(UTC)
    with cell.control_app.state.db.transaction(write=True) as session:
        session.add(
            ArchivedEvent(
                pl_id=72057594037927999,
                account_id=None,
                instance_id=1,
                queue="rt",
                event_type=template["event_type"],
                channel=0,
                status=2,
                email="zoe@example.com",
                external_id="o-77",
                document='<rtEvent type="X" email="zoe@example.com" externalId="o-77">'
                "<ctx><firstName>Zoé</firstName></ctx></rtEvent>",
                created_at=now,
                updated_at=now,
                archived_at=now,
            )
        )
    url = f"/api/v1/templates/{template['id']}/preview"
    shown = await cell.control.post(url, json={"event_id": 72057594037927999}, headers=admin)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["fields"]["subject"] == "Hi Zoé, order o-77"
    assert body["fields"]["html"] == "<p>For zoe@example.com</p>"
    assert (body["to"], body["seed"]) == ("zoe@example.com", "event 72057594037927999")
    unknown = await cell.control.post(url, json={"event_id": 1}, headers=admin)
    assert unknown.status_code == 400
    assert unknown.json()["field"] == "event_id"
