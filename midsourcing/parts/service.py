"""Accept a delivery part: store its new messages durably, exactly once per message id."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from midsourcing.delivery.magic import parse_magic
from midsourcing.parts import repository
from services import plid
from services.db import Database
from services.delivery_protocol import DeliveryMessage, DeliveryPart

__all__ = ["Accepted", "PartRefused", "append_delivery_part", "check_part", "instance_of"]

_INSTANCE_PREFIX = re.compile(r"(\d{1,3})-")
_LIMITS = {"id": 255, "event_type": 64, "app": 255}
_SQLITE_PARTS: weakref.WeakKeyDictionary[Database, repository.SqliteParts] = (
    weakref.WeakKeyDictionary()
)


class PartRefused(ValueError):
    """The part can never be accepted as it is (the caller must not retry it)."""


@dataclass(frozen=True)
class Accepted:
    """What ``AppendDeliveryPart`` did with a part."""

    delivery_part_id: int
    new_part: bool
    queued: int  # messages queued by this call
    duplicates: int  # messages already accepted, in this part or another


def instance_of(message: DeliveryMessage) -> int:
    """Return the execution instance a message's logs go to (0: nobody, e.g. a proof)."""
    if message.proof:
        return 0
    if message.event_id != 0:
        return plid.instance_of(message.event_id)
    found = _INSTANCE_PREFIX.match(message.id)
    return int(found.group(1)) if found and int(found.group(1)) <= 255 else 0


def check_part(part: DeliveryPart, *, max_messages: int) -> None:
    """Refuse a part that breaks the limits; raise PartRefused."""
    if len(part.id) > 255:
        raise PartRefused("the delivery part id is longer than 255 characters")
    if len(part.messages) > max_messages:
        raise PartRefused(
            f"the delivery part holds {len(part.messages)} messages, above the limit of "
            f"{max_messages} (MCSIM_MID_MAX_MESSAGES_PER_PART)"
        )
    for index, message in enumerate(part.messages):
        for name, limit in _LIMITS.items():
            if len(getattr(message, name)) > limit:
                raise PartRefused(f"message {index}: {name} is longer than {limit} characters")
        if not -(2**63) <= message.event_id < 2**63:
            raise PartRefused(f"message {index}: eventId does not fit a 64-bit id")


def _row(message: DeliveryMessage, *, part_id: int, now: datetime) -> dict[str, Any]:
    delay = parse_magic(message.channel, message.to).delay
    return {
        "message_id": message.id,
        "part_id": part_id,
        "instance": instance_of(message),
        "event_id": message.event_id,
        "event_type": message.event_type,
        "channel": message.channel,
        "recipient": message.to,
        "proof": message.proof,
        "template_version": message.template_version,
        "from_name": message.from_name,
        "from_address": message.from_address,
        "reply_to": message.reply_to,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "title": message.title,
        "app": message.app,
        "data": message.data,
        "status": "queued",
        "tries": 0,
        "next_attempt_at": now + timedelta(seconds=delay),
        "claimed_by": None,
        "failure_type": "",
        "failure_reason": 0,
        "result_text": "",
        "forwarded": "",
        "created_at": now,
        "finished_at": None,
    }


def append_delivery_part(*, db: Database, part: DeliveryPart, now: datetime) -> Accepted:
    """Store the part and queue each message whose id was never accepted; commit before return."""
    first: dict[str, DeliveryMessage] = {}
    for message in part.messages:
        first.setdefault(message.id, message)  # the same id twice in one part: keep the first
    for attempt in range(3):
        try:
            return _append(db, part, first, now)
        except IntegrityError:  # a concurrent call inserted the same part or id first: retry
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _sqlite_parts(db: Database) -> repository.SqliteParts:
    parts = _SQLITE_PARTS.get(db)
    if parts is None:
        parts = _SQLITE_PARTS[db] = repository.SqliteParts(db)
    return parts


def _append(
    db: Database, part: DeliveryPart, messages: dict[str, DeliveryMessage], now: datetime
) -> Accepted:
    if db.is_sqlite:
        return _append_sqlite(db, part, messages, now)
    with db.transaction(write=True) as session:
        part_id, new_part = repository.get_or_add_part(
            session,
            part_key=part.id,
            instance=part.instance,
            queue=part.queue,
            message_count=len(part.messages),
            now=now,
        )
        fresh = repository.claim_message_ids(
            session, message_ids=list(messages), part_id=part_id, now=now
        )
        rows = [_row(m, part_id=part_id, now=now) for key, m in messages.items() if key in fresh]
        repository.add_messages(session, rows)
    return Accepted(part_id, new_part, len(rows), len(part.messages) - len(rows))


def _append_sqlite(
    db: Database, part: DeliveryPart, messages: dict[str, DeliveryMessage], now: datetime
) -> Accepted:
    parts = _sqlite_parts(db)
    with db.sqlite_write() as connection:
        part_id, new_part = parts.get_or_add_part(
            connection,
            part_key=part.id,
            instance=part.instance,
            queue=part.queue,
            message_count=len(part.messages),
            now=now,
        )
        fresh = parts.claim_message_ids(
            connection, message_ids=list(messages), part_id=part_id, now=now
        )
        rows = [_row(m, part_id=part_id, now=now) for key, m in messages.items() if key in fresh]
        parts.add_messages(connection, rows)
    return Accepted(part_id, new_part, len(rows), len(part.messages) - len(rows))
