"""Security review F7: export parameters XML cannot carry are 400s naming them, never 500s."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from control_instance.tables import EventType
from tests.integration.control.conftest import control_cell

REFUSED = [
    ({"name": "x\x00y"}, "name"),
    ({"label": "a\x01b"}, "label"),
    ({"name": "n", "label": "\ufffe"}, "label"),
    ({"template": "t\x00"}, "template"),
    ({"event_type": "E\x1f"}, "event_type"),
    ({"account": "a\x00"}, "account"),
]


async def test_characters_xml_cannot_carry_are_refused_with_400(tmp_path: Path) -> None:
    async with control_cell(tmp_path, instances=0) as cell:
        headers = await cell.as_role("editor")
        for params, field in REFUSED:
            answer = await cell.control.get(
                "/api/v1/packages/export", params=params, headers=headers
            )
            assert answer.status_code == 400, (params, answer.text)
            body = answer.json()
            assert body["error"] == "invalid_request"
            assert field in body["field"]
        params = {"name": "release-1", "label": "Release 1 — été\ttab"}
        answer = await cell.control.get("/api/v1/packages/export", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        assert b'name="release-1"' in answer.content


async def test_a_stored_text_xml_cannot_carry_is_named_not_a_server_error(tmp_path: Path) -> None:
    async with control_cell(tmp_path, instances=0) as cell:
        headers = await cell.as_role("editor")
        transport = cell.control._transport
        assert isinstance(transport, httpx.ASGITransport)
        db = transport.app.state.control.db  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        with db.transaction(write=True) as session:  # stored before the APIs refused it
            session.add(EventType(name="BADLABEL", label="bad\x01", created_at=now, updated_at=now))
        answer = await cell.control.get(
            "/api/v1/packages/export", params={"event_type": "BADLABEL"}, headers=headers
        )
        assert answer.status_code == 409, answer.text
        assert answer.json()["field"] == "label"
        assert "BADLABEL" in answer.json()["message"]
