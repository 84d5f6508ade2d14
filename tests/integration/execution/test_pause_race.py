"""A worker that read a paused template from its cache must not pause an event after the
template was resumed: the resume already put the paused events back and would never see this
one, which would stay paused for ever (seen under load: the resume committed between a worker's
claim and the refresh of its cache)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from execution_instance.intake.channels import EventStatus
from execution_instance.processing.claims import Finished, record_finished
from execution_instance.tables import Event, Template
from services.db import Database
from tests.integration.execution.conftest import add_event


def _template(db: Database, *, paused: bool) -> None:
    with db.transaction(write=True) as session:
        session.add(
            Template(
                name="reset",
                queue=0,
                event_type="PASSWORD_RESET",
                channel=0,
                version=1,
                paused=paused,
                content="{}",
                published_at=datetime.now(UTC),
            )
        )


@pytest.mark.parametrize("paused_now", [True, False])
def test_an_event_is_paused_only_while_its_template_still_is(
    db: Database, paused_now: bool
) -> None:
    _template(db, paused=paused_now)
    lease = datetime.now(UTC) + timedelta(seconds=60)
    pk = add_event(db, claimed_by="w1", claimed_until=lease)
    with db.transaction(write=True) as session:  # the worker's cache said: paused
        record_finished(
            session,
            [Finished(pk, EventStatus.PAUSED, template_name="reset", template_version=1)],
            worker="w1",
        )
    with db.transaction() as session:
        row = session.get(Event, pk)
        assert row is not None
        expected = EventStatus.PAUSED if paused_now else EventStatus.PENDING
        assert EventStatus(row.status) is expected
        assert row.claimed_by is None  # released either way: retaken at once when pending
