"""Waiting on an event's status (issue 16 item 3): ``GET {href}?wait=N`` answers as soon as the
event leaves pending/processing (or reaches ``until``), whichever process changes it (here the
test writes the status, as a processing process does), and at the latest after ``wait``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import update

from execution_instance.intake.channels import EventStatus
from execution_instance.intake.service import split_pl_id
from execution_instance.tables import Event
from tests.integration.execution.conftest import InstanceFactory

PATH = "/acme/campaign/mcacme/EVTPASSWORD_RESET"
AUTH = {"authorization": "Bearer mcsim-dev-token"}


async def _create(client: httpx.AsyncClient) -> str:
    answer = await client.post(PATH, json={"email": "ann@example.com", "ctx": {}}, headers=AUTH)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["PKey"])


async def _get(client: httpx.AsyncClient, pkey: str, **params: str) -> tuple[Any, float]:
    started = time.monotonic()
    answer = await client.get(f"{PATH}/{pkey}", params=params, headers=AUTH, timeout=30)
    return answer, time.monotonic() - started


def _set_status(client: httpx.AsyncClient, pkey: str, status: EventStatus) -> None:
    db = client._transport.app.state.db  # type: ignore[attr-defined]
    with db.transaction(write=True) as session:
        session.execute(
            update(Event).where(Event.id == split_pl_id(int(pkey))[1]).values(status=int(status))
        )


async def _later(client: httpx.AsyncClient, pkey: str, *steps: EventStatus) -> None:
    for status in steps:
        await asyncio.sleep(0.3)
        _set_status(client, pkey, status)


async def test_a_wait_answers_when_the_event_is_done(make_instance: InstanceFactory) -> None:
    async with make_instance() as client:
        pkey = await _create(client)
        changes = asyncio.create_task(
            _later(client, pkey, EventStatus.PROCESSING, EventStatus.PROCESSED)
        )
        answer, took = await _get(client, pkey, wait="10")
        await changes
        assert answer.status_code == 200
        assert answer.json()["status"] == "processed"
        assert 0.5 < took < 3  # not at the first change (processing), not at the end


async def test_until_a_status_or_a_final_one(make_instance: InstanceFactory) -> None:
    async with make_instance() as client:
        paused = await _create(client)
        changes = asyncio.create_task(_later(client, paused, EventStatus.PAUSED))
        answer, took = await _get(client, paused, wait="10", until="paused")
        await changes
        assert answer.json()["status"] == "paused" and took < 3

        failed = await _create(client)
        changes = asyncio.create_task(_later(client, failed, EventStatus.DELIVERY_FAILED))
        answer, took = await _get(client, failed, wait="10", until="processed")
        await changes
        assert answer.json()["status"] == "deliveryFailed" and took < 3  # it can never be sent

        pending = await _create(client)
        answer, took = await _get(client, pending, wait="0.4")
        assert answer.json()["status"] == "pending" and 0.4 <= took < 2


async def test_bad_waits_are_refused_and_change_nothing(make_instance: InstanceFactory) -> None:
    async with make_instance() as client:
        pkey = await _create(client)
        answer, _ = await _get(client, pkey, wait="5", until="sent")
        assert answer.status_code == 400
        assert answer.json()["field"] == "until"
        assert "processed" in answer.json()["message"]
        for value in ("26", "-1", "later"):
            answer, _ = await _get(client, pkey, wait=value)
            assert answer.status_code == 400, value
        unknown, took = await _get(client, str(int(pkey) + 1), wait="5")
        assert unknown.status_code == 404 and took < 1
        nobody = await client.get(f"{PATH}/{pkey}", params={"wait": "5"})
        assert nobody.status_code == 401
