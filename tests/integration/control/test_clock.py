"""The cell's clock on the control instance (issue 16 item 4): ``POST /api/v1/clock`` (admin)
sets one offset on this instance and every execution instance, says which service it could not
reach, and the next change puts that one back in step; a cell reset goes back to real time."""

from __future__ import annotations

from datetime import timedelta

from services.clock import read_offset
from tests.integration.control.conftest import Cell, exec_url


def _stored(cell: Cell, url: str) -> float:
    return read_offset(cell.apps[url].state.db).total_seconds()


async def test_the_cell_moves_together_and_a_service_that_was_down_is_put_back_in_step(
    cell: Cell,
) -> None:
    admin = await cell.login()
    one, two = exec_url(1), exec_url(2)
    viewer = await cell.as_role("viewer")
    refused = await cell.control.post("/api/v1/clock", json={"advance": "2h"}, headers=viewer)
    assert refused.status_code == 403

    cell.switches[two].down = True
    moved = await cell.control.post("/api/v1/clock", json={"advance": "2h"}, headers=admin)
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["offsetSeconds"] == 7200 and body["inStep"] is False
    services = {
        s["url"] if "execution" in s["service"] else s["service"]: s for s in body["services"]
    }
    assert services["control instance"]["offsetSeconds"] == 7200
    assert services[one]["offsetSeconds"] == 7200
    assert services[two]["ok"] is False
    assert "cannot reach" in services[two]["error"]
    assert services["mid-sourcing"]["offsetSeconds"] == 7200 == cell.mid.clock_offset
    assert _stored(cell, one) == 7200 and _stored(cell, two) == 0
    assert read_offset(cell.control_app.state.db) == timedelta(hours=2)

    cell.switches[two].down = False
    cell.mid.down = True
    again = (
        await cell.control.post("/api/v1/clock", json={"advance": "30m"}, headers=admin)
    ).json()
    assert again["offsetSeconds"] == 9000
    assert _stored(cell, one) == _stored(cell, two) == 9000  # back in step
    assert again["inStep"] is False  # mid-sourcing was not reached
    shown = (await cell.control.get("/api/v1/clock", headers=viewer)).json()
    assert {s["service"] for s in shown["services"] if not s["ok"]} == {"mid-sourcing"}

    cell.mid.down = False
    reset = await cell.control.post("/api/v1/reset", headers=admin)
    assert reset.status_code == 200, reset.text
    assert reset.json()["clock"]["offsetSeconds"] == 0
    assert _stored(cell, one) == _stored(cell, two) == 0
    assert read_offset(cell.control_app.state.db) == timedelta(0)


async def test_the_console_banner_shows_a_moved_clock(cell: Cell) -> None:
    admin = await cell.login()
    html = {"accept": "text/html"}
    page = await cell.control.get("/login", headers=html)
    assert 'id="virtual-clock"' not in page.text
    await cell.control.post("/api/v1/clock", json={"advance": "1d 2h"}, headers=admin)
    page = await cell.control.get("/login", headers=html)
    assert 'id="virtual-clock"' in page.text and "clock +1d 2h" in page.text
