"""Builders of messages for mid-sourcing unit tests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from midsourcing.delivery.item import Outgoing

ACCEPTED_AT = datetime(2026, 11, 28, 10, 0, 0, 123000, tzinfo=UTC)


def outgoing(**changes: Any) -> Outgoing:
    """Return an email message to ann@example.com; keyword arguments change fields."""
    base = Outgoing(
        pk=1,
        message_id="1-8030",
        instance=1,
        event_id=(1 << 56) | 8030,
        event_type="PASSWORD_RESET",
        channel="email",
        recipient="ann@example.com",
        proof=False,
        template_version=3,
        from_name="Acme",
        from_address="noreply@acme.test",
        reply_to="help@acme.test",
        subject="Reset your password",
        text="Hello Ann\n",
        html="<p>Hello <b>Ann</b></p>",
        title="",
        app="",
        data="",
        created_at=ACCEPTED_AT,
        tries=1,
    )
    return replace(base, **changes)
