"""Accept a delivery part: store its new messages durably, exactly once per message id."""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.magic import parse_magic
from midsourcing.delivery.repository import ClaimAtAcceptance, Claimed
from midsourcing.delivery.sqlite_queue import SqliteQueue
from midsourcing.parts import repository
from midsourcing.quarantine.addresses import address_digest
from services import plid
from services.db import Database
from services.delivery_protocol import DeliveryMessage, DeliveryPart

__all__ = ["Accepted", "PartRefused", "append_delivery_part", "check_part", "instance_of"]

_INSTANCE_PREFIX = re.compile(r"(\d{1,3})-")
_LIMITS = {"id": 255, "event_type": 64, "app": 255}
_SQLITE_PARTS: weakref.WeakKeyDictionary[Database, tuple[repository.SqliteParts, SqliteQueue]] = (
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
    claimed: Sequence[Claimed] = ()  # of those, claimed at acceptance (see append_delivery_part)


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
        "seen_at": None,
    }


def append_delivery_part(
    *, db: Database, part: DeliveryPart, now: datetime, claim: ClaimAtAcceptance | None = None
) -> Accepted:
    """Store the part and queue each message whose id was never accepted; commit before return.

    With ``claim`` (SQLite), up to ``claim.limit`` of the new messages that are due at once are
    stored already claimed by ``claim.worker`` and returned in ``Accepted.claimed``: the caller's
    dispatcher starts their tries without a claim transaction of its own.
    """
    first: dict[str, DeliveryMessage] = {}
    for message in part.messages:
        first.setdefault(message.id, message)  # the same id twice in one part: keep the first
    for attempt in range(3):
        try:
            return _append(db, part, first, now, claim)
        except IntegrityError:  # a concurrent call inserted the same part or id first: retry
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _sqlite_parts(db: Database) -> tuple[repository.SqliteParts, SqliteQueue]:
    found = _SQLITE_PARTS.get(db)
    if found is None:
        found = _SQLITE_PARTS[db] = (repository.SqliteParts(db), SqliteQueue(db))
    return found


def _append(
    db: Database,
    part: DeliveryPart,
    messages: dict[str, DeliveryMessage],
    now: datetime,
    claim: ClaimAtAcceptance | None,
) -> Accepted:
    if db.is_sqlite:
        return _append_sqlite(db, part, messages, now, claim)
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
    db: Database,
    part: DeliveryPart,
    messages: dict[str, DeliveryMessage],
    now: datetime,
    claim: ClaimAtAcceptance | None,
) -> Accepted:
    parts, queue = _sqlite_parts(db)
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
        taken = _claim_due(rows, claim, now)
        ids = parts.add_messages(connection, rows)
        claimed: list[Claimed] = []
        if taken:
            items = [Outgoing.from_values(rows[index], pk=ids[index]) for index in taken]
            digests = [address_digest(item.channel, item.recipient) for item in items]
            quarantined = queue.quarantined(connection, digests, now)
            claimed = [
                Claimed(item, digest in quarantined)
                for item, digest in zip(items, digests, strict=True)
            ]
    return Accepted(part_id, new_part, len(rows), len(part.messages) - len(rows), claimed)


def _claim_due(
    rows: list[dict[str, Any]], claim: ClaimAtAcceptance | None, now: datetime
) -> list[int]:
    """Mark up to ``claim.limit`` rows due now as claimed; return their indexes."""
    if claim is None:
        return []
    taken: list[int] = []
    for index, row in enumerate(rows):
        if len(taken) == claim.limit:
            break
        if row["next_attempt_at"] != now:  # a magic delay: left to the queue
            continue
        row.update(
            status="sending", claimed_by=claim.worker, next_attempt_at=claim.lease_until, tries=1
        )
        taken.append(index)
    return taken
