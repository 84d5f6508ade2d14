"""Two replicas of one execution instance sharing one database never process an event twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from execution_instance.app import create_app
from execution_instance.intake.channels import EventStatus
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from services.dev_credentials import CONTROL_PLANE
from tests.conftest import DatabaseTarget
from tests.integration.execution.test_processing import EMAIL
from tests.support.asgi import serve
from tests.support.fake_mid import FakeMid
from tests.support.soap import event_xml, push_events_envelope


@pytest.mark.postgres
async def test_replicas_share_the_queue_without_double_processing(
    database_target: DatabaseTarget, tmp_path: Path
) -> None:
    mid = FakeMid()
    settings = ExecutionSettings(
        data_dir=tmp_path,
        database_url=database_target.url,
        database_schema=database_target.schema,
        midsourcing_url="http://mid",
        workers=2,
        claim_batch_size=7,
        idle_poll_seconds=0.02,
        status_sync_seconds=0.05,
    )
    one_http = httpx.AsyncClient(transport=mid.transport())
    two_http = httpx.AsyncClient(transport=mid.transport())
    one = create_app(settings, http_client=one_http)
    async with serve(one) as first:
        two = create_app(settings, http_client=two_http)
        async with serve(two) as second:
            published = await first.put(
                "/_mc/templates/reset",
                json={"event_type": "PASSWORD_RESET", "channel": 0, "version": 1, "content": EMAIL},
                auth=CONTROL_PLANE,
            )
            assert published.status_code == 200
            await asyncio.sleep(1.1)  # the second replica re-reads the templates every second
            pushes = [
                client.post(
                    "/nl/jsp/soaprouter.jsp",
                    content=push_events_envelope(
                        [event_xml(email=f"u{batch}-{i}@example.com") for i in range(20)]
                    ).encode(),
                    headers={"content-type": "text/xml"},
                )
                for batch in range(10)
                for client in (first, second)
            ]
            answers = await asyncio.gather(*pushes)
            refused = [(a.status_code, a.text) for a in answers if a.status_code != 200]
            assert not refused, refused

            async def all_handed_over() -> None:
                while True:
                    with one.state.db.transaction() as session:
                        waiting = session.execute(
                            select(func.count())
                            .select_from(Event)
                            .where(Event.status != int(EventStatus.PROCESSING))
                        ).scalar_one()
                    handed = sum(app.state.execution.processor.handed_over for app in (one, two))
                    # A worker counts its part once its commit is back: wait for that too.
                    if waiting == 0 and handed == 400:
                        return
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(all_handed_over(), 30)
            shares = [app.state.execution.processor.handed_over for app in (one, two)]
    await one_http.aclose()
    await two_http.aclose()
    assert len(mid.messages) == 400
    assert max(mid.received.values()) == 1, "an event was handed over twice"
    assert sum(shares) == 400
    assert min(shares) > 0, f"one replica did no work: {shares}"
