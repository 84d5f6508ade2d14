"""``POST /api/v1/reset`` on the control instance (issue 16 item 5): admins only; every
execution instance is reset even when another one or mid-sourcing fails, and the answer says
which; production refuses before anything changes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.integration.control.conftest import Cell, control_cell, exec_url
from tests.support.soap import event_xml, push_event_envelope

SOAP = {"content-type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}


async def _push(cell: Cell, url: str) -> None:
    await cell.mc(url, "PUT", "/event-types/PASSWORD_RESET", json={"label": "reset"})
    body = push_event_envelope(event_xml("PASSWORD_RESET"))
    answer = await cell.instances[url].post("/nl/jsp/soaprouter.jsp", content=body, headers=SOAP)
    assert answer.status_code == 200, answer.text


async def _pending(cell: Cell, url: str) -> int:
    info = await cell.mc(url, "GET", "/info")
    return int(info.json()["pending_events"])


async def test_only_admins_reset_and_a_failing_service_does_not_stop_the_others(
    cell: Cell,
) -> None:
    one, two = exec_url(1), exec_url(2)
    await _push(cell, one)
    for role in ("viewer", "editor"):
        refused = await cell.control.post("/api/v1/reset", headers=await cell.as_role(role))
        assert refused.status_code == 403
    assert await _pending(cell, one) == 1

    cell.switches[two].down = True
    cell.mid.down = True
    answer = await cell.control.post("/api/v1/reset", headers=await cell.login())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["complete"] is False
    outcome = {s["service"]: s for s in body["services"]}
    first, second = (s for name, s in outcome.items() if name.startswith("execution instance"))
    by_url = {first["url"]: first, second["url"]: second}
    assert by_url[one]["ok"] is True and by_url[one]["removed"] == {"events": 1}
    assert by_url[two]["ok"] is False and "cannot reach" in by_url[two]["error"]
    assert outcome["mid-sourcing"]["ok"] is False
    assert "cannot reach the mid-sourcing server" in outcome["mid-sourcing"]["error"]
    assert outcome["control instance"]["ok"] is True
    assert await _pending(cell, one) == 0


async def test_reset_is_refused_in_production(tmp_path: Path) -> None:
    settings: dict[str, Any] = {
        "environment": "production",
        "admin_password": "a-long-production-password",
        "execution_password": "a-long-control-password",
        "midsourcing_password": "a-long-mid-password",
        "secret_key": "k" * 32,
    }
    async with control_cell(tmp_path, instances=1, **settings) as cell:
        headers = await cell.login("admin", "a-long-production-password")
        answer = await cell.control.post("/api/v1/reset", headers=headers)
        assert answer.status_code == 403
        assert "refused in production" in answer.json()["message"]
        assert not any("reset" in call for call in cell.switches[exec_url(1)].calls)


async def test_a_reset_waits_for_the_archiving_pass_in_flight(cell: Cell) -> None:
    """An archiving pass that read events before the reset would write them back into the
    cleared history: the reset takes its turn after the pass, and the pass after the reset."""
    state = cell.control_app.state.control
    admin = await cell.login()
    cell.mid.down = True  # the fake mid-sourcing server has no reset
    await state.archiving.acquire()  # an archiving pass is running
    try:
        reset = asyncio.create_task(cell.control.post("/api/v1/reset", headers=admin))
        await asyncio.sleep(0.3)
        assert not reset.done()
    finally:
        state.archiving.release()
    answer = await asyncio.wait_for(reset, timeout=10)
    assert answer.status_code == 200, answer.text
    assert not state.archiving.locked()
