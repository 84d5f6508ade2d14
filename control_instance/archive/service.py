"""Use cases of archiving: pull changed events from each instance, store them, purge old ones.

Each execution instance pages its events by ``(updated_at, id)``; the cursor of each account is
stored with the archive, so a pass resumes where the last one stopped, after downtime on either
side. A pass starts ``archive_overlap_seconds`` before its cursor (a change committed late is
still seen) and writes an event only when it is newer than the archived copy: passes are
idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import bindparam, delete, insert, select, update
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.client import InstanceCallError
from control_instance.accounts.service import Target, list_targets
from control_instance.archive.schemas import ArchiveOutcome
from control_instance.archive.source import read_json
from control_instance.state import ControlState
from control_instance.tables import ArchiveCursor, ArchivedEvent
from services.clock import utc_now
from services.db import Database

__all__ = ["archive_account", "archive_all", "purge_archive", "purge_instances"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIELDS = (
    "instance_id",
    "queue",
    "event_type",
    "channel",
    "status",
    "email",
    "mobile_phone",
    "external_id",
    "document",
    "processing_at",
    "processed_at",
    "error_count",
    "failure_reason",
    "error_text",
    "template_name",
    "template_version",
    "delivery_part",
)
_TIMES = ("created_at", "processing_at", "processed_at", "updated_at")


def _parse(cursor: str) -> tuple[datetime, int]:
    if not cursor:
        return _EPOCH, 0
    stamp, _, pk = cursor.rpartition("~")
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC), int(pk)
    except ValueError:
        return _EPOCH, 0  # not understood: read everything again (idempotent)


def _format(at: datetime, pk: int) -> str:
    return f"{at.astimezone(UTC).isoformat()}~{pk}"


def _rewind(cursor: str, seconds: float, last_read: datetime | None) -> str:
    """Return where a pass starts: where a change committed late may hide, or the cursor.

    A change the last pass could not see was stamped before that pass read but committed
    after: within ``seconds`` before the moment the last pass began reading. Unknown (the first
    pass since a restart): within ``seconds`` before the cursor. An idle cell therefore costs
    nothing once its last changes are ``seconds`` old, instead of re-reading them every pass.
    """
    at, _ = _parse(cursor)
    if at == _EPOCH:
        return ""
    since = (last_read if last_read is not None else at) - timedelta(seconds=seconds)
    if since >= at:
        return cursor
    return _format(max(since, _EPOCH), 0)


def _load_cursor(db: Database, account_id: int) -> str:
    with db.transaction() as session:
        row = session.get(ArchiveCursor, account_id)
        return row.cursor if row is not None else ""


def _event_values(item: dict[str, Any]) -> dict[str, Any]:
    values = {name: item.get(name) for name in _FIELDS}
    for name in _TIMES:
        raw = item.get(name)
        values[name] = datetime.fromisoformat(raw).astimezone(UTC) if raw else None
    values["error_count"] = int(item.get("error_count") or 0)
    return values


def store_page(db: Database, account_id: int, items: Sequence[dict[str, Any]], cursor: str) -> int:
    """Write a page of events (newer copies win) and advance the account's cursor; return writes.

    A copy is newer when its ``updated_at`` is (an instance stamps every change of an event);
    an older or identical copy (the overlap read again) is skipped. Plain statements, one
    multi-row INSERT and one UPDATE per page, instead of an ORM object per event.
    """
    now = utc_now()
    table = ArchivedEvent.metadata.tables[ArchivedEvent.__tablename__]
    copies = {int(item["pl_id"]): _event_values(item) for item in items}
    with db.transaction(write=True) as session:
        known: dict[int, datetime] = dict(
            session.execute(
                select(ArchivedEvent.pl_id, ArchivedEvent.updated_at).where(
                    ArchivedEvent.pl_id.in_(list(copies))
                )
            ).all()
        )
        new = [
            {"pl_id": pl_id, "account_id": account_id, "archived_at": now, **values}
            for pl_id, values in copies.items()
            if pl_id not in known
        ]
        changed = [
            {"key": pl_id, "account_id": account_id, "archived_at": now, **values}
            for pl_id, values in copies.items()
            if pl_id in known and values["updated_at"] > known[pl_id]
        ]
        if new:
            session.execute(insert(table), new)
        if changed:
            session.execute(
                update(table).where(table.c.pl_id == bindparam("key")),
                changed,
            )
        state = session.get(ArchiveCursor, account_id)
        if state is None:
            state = ArchiveCursor(account_id=account_id, cursor="", archived=0)
            session.add(state)
        if _parse(cursor) > _parse(state.cursor):
            state.cursor = cursor
        state.archived = (state.archived or 0) + len(new) + len(changed)
    return len(new) + len(changed)


def _record_run(db: Database, account_id: int, error: str | None) -> None:
    now = utc_now()
    with db.transaction(write=True) as session:
        state = session.get(ArchiveCursor, account_id)
        if state is None:
            state = ArchiveCursor(account_id=account_id, cursor="", archived=0)
            session.add(state)
        state.last_run_at = now
        state.last_error = error
        if error is None:
            state.last_ok_at = now


async def archive_account(*, state: ControlState, target: Target) -> ArchiveOutcome:
    """Pull every event changed since the account's cursor (minus the overlap) into the archive."""
    settings = state.settings
    stored = await run_in_threadpool(_load_cursor, state.db, target.account_id)
    reading = utc_now()
    cursor = _rewind(
        stored, settings.archive_overlap_seconds, state.archive_reads.get(target.account_id)
    )
    written = read = 0
    error: str | None = None
    try:
        while True:
            page = await read_json(
                state.http,
                target,
                "/events",
                params={"cursor": cursor, "limit": settings.archive_page_size},
                wait=settings.instance_timeout_seconds,
            )
            items = list(page["items"])
            read += len(items)
            cursor = str(page["next_cursor"])
            written += await run_in_threadpool(
                store_page, state.db, target.account_id, items, cursor
            )
            if not page.get("more") or not items:
                break
    except InstanceCallError as exc:
        error = exc.message
    except (KeyError, TypeError, ValueError) as exc:
        error = f"the instance's /_mc/events answer is not understood: {exc!r}"
    await run_in_threadpool(_record_run, state.db, target.account_id, error)
    if error is None:
        state.archive_reads[target.account_id] = reading
    final = await run_in_threadpool(_load_cursor, state.db, target.account_id)
    return ArchiveOutcome(
        account_id=target.account_id,
        name=target.name,
        ok=error is None,
        archived=written,
        read=read,
        error=error,
        cursor=final,
    )


async def archive_all(*, state: ControlState) -> list[ArchiveOutcome]:
    """Run one archiving pass on every enabled execution instance, side by side."""
    async with state.archiving:
        targets = await run_in_threadpool(lambda: list_targets(state=state))
        passes = (archive_account(state=state, target=t) for t in targets)
        return list(await asyncio.gather(*passes))


def purge_archive(*, db: Database, retention_days: int, now: datetime | None = None) -> int:
    """Delete archived events received more than ``retention_days`` ago; return how many."""
    cutoff = (now or utc_now()) - timedelta(days=retention_days)
    with db.transaction(write=True) as session:
        result = session.execute(delete(ArchivedEvent).where(ArchivedEvent.created_at < cutoff))
        return int(result.rowcount)  # type: ignore[attr-defined]


async def _purge_instance(state: ControlState, target: Target, before: datetime) -> int:
    url = target.url.rstrip("/") + "/_mc/events"
    try:
        answer = await state.http.delete(
            url,
            params={"before": before.isoformat()},
            auth=(target.login, target.password),
            timeout=state.settings.instance_timeout_seconds,
        )
        answer.raise_for_status()
        return int(answer.json()["purged"])
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return 0  # tried again at the next purge


async def purge_instances(*, state: ControlState, now: datetime | None = None) -> dict[str, int]:
    """Purge archived, finished events past their retention from every enabled instance.

    Only what the archive already holds is purged: the cut-off is never later than the
    account's cursor. Return how many events each instance deleted.
    """
    cutoff = (now or utc_now()) - timedelta(days=state.settings.execution_event_retention_days)
    targets = await run_in_threadpool(lambda: list_targets(state=state))
    purged: dict[str, int] = {}
    for target in targets:
        cursor = await run_in_threadpool(_load_cursor, state.db, target.account_id)
        archived_until, _ = _parse(cursor)
        if archived_until == _EPOCH:
            continue  # nothing archived yet: keep everything
        purged[target.name] = await _purge_instance(state, target, min(cutoff, archived_until))
    return purged
