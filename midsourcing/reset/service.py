"""Reset between tests (issue 16): forget every message, delivery log and quarantined address.

Messages still queued or being sent go too: a worker that finishes a try of a message that is
gone records nothing (outcomes are only stored for messages the worker still holds), so no
delivery log of a forgotten message appears after the reset. The operators, their sessions and
the ids of accepted delivery parts and messages (the dedupe memory that keeps a part sent again
from being delivered twice) stay; execution instances renew their message ids on their own
reset, so new messages never collide with remembered ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import CursorResult, delete

from midsourcing.delivery.chaos import Chaos, ChaosConfig
from midsourcing.tables import Address, delivery_logs_table, messages_table
from services.db import Database
from services.errors import Forbidden
from services.settings import Environment

__all__ = ["ResetOutcome", "reset_capture"]


@dataclass(frozen=True)
class ResetOutcome:
    """What a reset removed."""

    messages: int
    delivery_logs: int
    addresses: int
    chaos_channels: int


def reset_capture(*, db: Database, chaos: Chaos, environment: Environment) -> ResetOutcome:
    """Delete every message, delivery log and address with errors; stop every chaos."""
    if environment is Environment.PRODUCTION:
        raise Forbidden(
            "a reset is refused in production",
            detail="it deletes messages and delivery logs; it exists for development and tests",
        )
    with db.transaction(write=True) as session:
        messages = _rowcount(session.execute(delete(messages_table)))
        logs = _rowcount(session.execute(delete(delivery_logs_table)))
        addresses = _rowcount(session.execute(delete(Address)))
    had_chaos = len(chaos.config.channels)
    chaos.configure(ChaosConfig())
    return ResetOutcome(
        messages=messages, delivery_logs=logs, addresses=addresses, chaos_channels=had_chaos
    )


def _rowcount(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0
