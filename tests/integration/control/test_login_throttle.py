"""Security review F2b, F2c on the control instance: successes keep failures; no race."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.integration.control.conftest import Cell

LOGIN = "/api/v1/auth/login"


async def test_concurrent_wrong_passwords_are_checked_at_most_the_limit(cell: Cell) -> None:
    answers = await asyncio.gather(
        *(cell.control.post(LOGIN, json={"login": "admin", "password": f"g{n}"}) for n in range(40))
    )
    counts = Counter(answer.status_code for answer in answers)
    assert counts[401] <= 5, counts
    assert counts[401] + counts[429] == 40, counts


async def test_successes_do_not_reset_the_failures(cell: Cell) -> None:
    for n in range(4):
        right = await cell.control.post(LOGIN, json={"login": "admin", "password": "admin"})
        assert right.status_code == 200
        wrong = await cell.control.post(LOGIN, json={"login": "admin", "password": f"g{n}"})
        assert wrong.status_code == 401
    assert (await cell.control.post(LOGIN, json={"login": "admin", "password": "admin"})).is_success
    last = await cell.control.post(LOGIN, json={"login": "admin", "password": "g4"})
    assert last.status_code == 401
    locked = await cell.control.post(LOGIN, json={"login": "admin", "password": "admin"})
    assert locked.status_code == 429
