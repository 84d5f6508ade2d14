"""Scale with stored data (issue 15 item 4): one execution instance holding a million events.

Two stacks run side by side, each `mcsim up --demo --instances 1` with default settings: one
empty, one whose execution instance holds ``--events`` finished events (1,000,000 by default)
and whose control instance holds them archived, spread over the last ``--span-days`` (7, so
about 6,000 an hour, as a busy shop's instance keeps them until the purge). The data is written
straight into the databases while the stack is stopped (`mcsim up` first creates and migrates
them; the archive cursor is then set past the loaded events, as after archiving them), on the
embedded SQLite or on PostgreSQL (``--database postgres``, one schema per service).

Measured, alternating between the two stacks in every round:

- **intake**: single ~1 KB SOAP PushEvent to the execution instance's own port, wrk -c32 for
  ``--seconds``, processing on (every event also rendered and captured): the full stack's rate
  over the empty one's (target >= 0.9x);
- **answer times** of the full stack (each call ``--calls`` times, median and worst, target
  <= 250 ms): the monitoring statistics (``GET /_mc/stats`` over one hour and over a day), the
  archive cursor (``GET /_mc/events`` from the archived head, where archiving reads every 5 s,
  and from the start), and the control instance's event-history search (``GET /api/v1/events``:
  the newest page, by email, by status, by type and day, by plId, a deep page).

    .venv/bin/python -m benchmarks.stored                       # SQLite, 1,000,000 events
    .venv/bin/python -m benchmarks.stored --database postgres   # MCSIM_TEST_POSTGRES_URL or
                                                                # --postgres-url
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, insert, select, text

from benchmarks.processes import load_average
from benchmarks.wrk_tools import WrkResult, run_wrk
from control_instance import tables as control_tables
from execution_instance import minutes
from execution_instance import tables as exec_tables
from execution_instance.intake.channels import EventStatus
from execution_instance.intake.service import pl_id
from execution_instance.routes.stats import format_cursor
from services.db import Database
from services.dev_credentials import CONTROL_PLANE
from tests.support.soap import event_xml, push_event_envelope
from tests.support.stack import StackPorts, StackRunner, free_ports

ROUTER = "/nl/jsp/soaprouter.jsp"
HEADERS_ONE = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "nms:rtEvent#PushEvent"}
CTX = (
    "<firstName>Ann</firstName><resetUrl>https://shop.example/reset?t=abc123</resetUrl>"
    "<orderId>A-1029384</orderId><locale>en-GB</locale><store>web</store>"
    "<cartTotal>129.90</cartTotal><currency>EUR</currency><loyalty>gold</loyalty>"
)
CONTROL_LOGIN = {"login": "admin", "password": "admin"}  # the demo's console and API account
TARGET_MS = 250.0
TARGET_RATIO = 0.9
CHUNK = 20_000
#: Share of each final status among the loaded events (the rest are sent).
MIX = (
    (EventStatus.DELIVERY_FAILED, 0.02),
    (EventStatus.IGNORED, 0.01),
    (EventStatus.ROUTING_FAILED, 0.005),
    (EventStatus.TOO_OLD, 0.001),
)


def _say(text_: str) -> None:
    print(text_, flush=True, file=sys.stderr)


# -- loading -------------------------------------------------------------------------------------


@dataclass
class Loaded:
    """What was written: how many, and the last event in archiving order."""

    count: int = 0
    last_updated_at: datetime | None = None
    last_id: int = 0
    sample_email: str = ""
    sample_pl_id: int = 0
    seconds: float = 0.0


def _status(rng: random.Random) -> int:
    draw = rng.random()
    for status, share in MIX:
        if draw < share:
            return int(status)
        draw -= share
    return int(EventStatus.PROCESSED)


def _rows(
    count: int, span: timedelta, now: datetime, instance_id: int, first_id: int
) -> Iterator[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Yield chunks of (execution rows, archive rows), oldest first, ids in time order."""
    rng = random.Random(15)
    start = now - span
    step = span / count
    template = event_xml(email="{email}", ctx=CTX)
    for base in range(0, count, CHUNK):
        events: list[dict[str, Any]] = []
        archived: list[dict[str, Any]] = []
        for k in range(base, min(base + CHUNK, count)):
            pk = first_id + k
            created = start + step * k
            status = _status(rng)
            email = f"customer{rng.randrange(count // 3 + 1)}@example.com"
            queued = created + timedelta(milliseconds=rng.randrange(5, 80))
            done = queued + timedelta(milliseconds=rng.randrange(20, 400))
            failed = status != int(EventStatus.PROCESSED)
            row = {
                "email": email,
                "event_type": "PASSWORD_RESET",
                "status": status,
                "external_id": f"order-{pk}",
                "document": template.replace("{email}", email),
                "created_at": created,
                "processing_at": queued,
                "processed_at": done,
                "updated_at": done,
                "error_count": 1 if failed else 0,
                "failure_reason": 2 if failed else None,
                "error_text": "550 5.1.1 unknown user" if failed else None,
                "template_name": "passwordReset",
                "template_version": 1,
                "delivery_part": f"rt-{pk // 500}",
            }
            events.append(
                {
                    **row,
                    "id": pk,
                    "queue": 0,
                    "wished_channel": 0,
                    "source": "soap",
                    "email_format": 0,
                    "next_attempt_at": created,
                }
            )
            archived.append(
                {
                    **row,
                    "pl_id": pl_id(instance_id, pk),
                    "instance_id": instance_id,
                    "queue": "rt",
                    "channel": 0,
                    "archived_at": done + timedelta(seconds=5),
                }
            )
        yield events, archived


def load(
    exec_db: Database, control_db: Database, *, count: int, span: timedelta, instance_id: int
) -> Loaded:
    """Write ``count`` finished events into the execution instance and the archive."""
    started = time.monotonic()
    now = datetime.now(UTC) - timedelta(minutes=1)  # before anything the stack does next
    with control_db.transaction() as session:
        account_id = session.execute(
            select(control_tables.Account.id).order_by(control_tables.Account.id).limit(1)
        ).scalar_one()
    with exec_db.transaction() as session:
        first_id = int(
            session.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar_one()
        )
    first_id += 1
    loaded = Loaded()
    last = time.monotonic()
    for events, archived in _rows(count, span, now, instance_id, first_id):
        for row in archived:
            row["account_id"] = account_id
        with exec_db.write_connection() as connection:
            connection.execute(insert(exec_tables.Event), events)
        with control_db.write_connection() as connection:
            connection.execute(insert(control_tables.ArchivedEvent), archived)
        loaded.count += len(events)
        loaded.last_updated_at = events[-1]["updated_at"]
        loaded.last_id = events[-1]["id"]
        if not loaded.sample_email:
            loaded.sample_email = events[len(events) // 2]["email"]
            loaded.sample_pl_id = archived[len(archived) // 2]["pl_id"]
        if time.monotonic() - last > 10:
            last = time.monotonic()
            _say(f"  loaded {loaded.count:,} of {count:,} ({last - started:.0f} s)")
    assert loaded.last_updated_at is not None
    cursor = format_cursor(loaded.last_updated_at, loaded.last_id)
    with exec_db.write_connection() as connection:
        # Events written with past times, in minutes already counted for the statistics:
        # count again (execution_instance.minutes).
        minutes.forget(connection)
    with control_db.write_connection() as connection:
        # The first archiving pass creates the row: the stack has not run one yet.
        cursors = control_tables.ArchiveCursor
        connection.execute(delete(cursors).where(cursors.account_id == account_id))
        connection.execute(
            insert(cursors).values(account_id=account_id, cursor=cursor, archived=count)
        )
    if exec_db.is_postgres:
        # The rows came with their ids: move the identity past them, as intake would have.
        with exec_db.write_connection() as connection:
            connection.execute(
                text("SELECT setval(pg_get_serial_sequence('events', 'id'), max(id)) FROM events")
            )
    # On PostgreSQL, autovacuum vacuums and analyzes tables that grow over days (its visibility
    # map lets index-only scans skip the rows): VACUUM ANALYZE gives the loaded tables that
    # state. SQLite is never analyzed by itself, and mcsim does not ask it to.
    for db in (exec_db, control_db):
        if db.is_postgres:
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM ANALYZE")
                )
    loaded.seconds = time.monotonic() - started
    return loaded


# -- the stacks ----------------------------------------------------------------------------------


@dataclass
class Target:
    """One stack: where its data lives and how to reach it."""

    name: str
    folder: Path
    args: list[str]
    env: dict[str, str]
    # The same ports at every start: the demo workspace remembers the instance's URL.
    ports: StackPorts = field(default_factory=lambda: free_ports(1))
    runner: StackRunner | None = None

    @property
    def stack(self) -> StackRunner:
        assert self.runner is not None
        return self.runner

    def start(self) -> StackRunner:
        self.runner = StackRunner.start(
            self.folder / "data",
            "--demo",
            *self.args,
            ports=self.ports,
            instances=1,
            env=self.env,
        )
        self.runner.wait_ready(timeout=180)
        return self.runner

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop(timeout=60)
            self.runner = None


def _databases(target: Target, postgres_url: str | None, prefix: str) -> tuple[Database, Database]:
    data = target.folder / "data"
    if postgres_url is None:
        return (
            Database(f"sqlite:///{data / 'execution-1.sqlite3'}"),
            Database(f"sqlite:///{data / 'control.sqlite3'}"),
        )
    return (
        Database(postgres_url, schema=f"{prefix}_exec_1"),
        Database(postgres_url, schema=f"{prefix}_control"),
    )


def _drop_schemas(postgres_url: str, prefix: str) -> None:
    db = Database(postgres_url)
    try:
        with db.write_connection() as connection:
            for schema in ("exec_1", "control", "mid"):
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}_{schema}" CASCADE'))
    finally:
        db.dispose()


# -- measuring -----------------------------------------------------------------------------------


@dataclass
class Timings:
    """Answer times of one call, in ms."""

    label: str
    values: list[float] = field(default_factory=list)
    detail: str = ""

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def worst(self) -> float:
        return max(self.values)


def _time_calls(
    client: httpx.Client, label: str, url: str, calls: int, headers: dict[str, str]
) -> Timings:
    timings = Timings(label)
    for _ in range(calls):
        started = time.perf_counter()
        answer = client.get(url, headers=headers)
        timings.values.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{label}: {url} answered {answer.status_code}: {answer.text[:300]}")
        body = answer.json()
        if "total" in body:
            timings.detail = f"total {body['total']:,}, {len(body['items'])} items"
        elif "items" in body:
            timings.detail = f"{len(body['items'])} items"
        elif "pending" in body:
            timings.detail = f"events_in {body['events_in']:,}, finished {body['finished']:,}"
    return timings


def answer_times(stack: StackRunner, loaded: Loaded, calls: int) -> list[Timings]:
    """Time the monitoring, archiving and history calls of the full stack."""
    assert loaded.last_updated_at is not None
    head = format_cursor(loaded.last_updated_at - timedelta(seconds=10), 0)
    day_ago = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    exec_url = stack.exec_url(1)
    control = stack.control_url
    history = f"{control}/api/v1/events"
    with httpx.Client(timeout=60) as client:
        token = client.post(f"{control}/api/v1/auth/login", json=CONTROL_LOGIN)
        token.raise_for_status()
        api = {"Authorization": f"Bearer {token.json()['access_token']}"}
        basic = base64.b64encode(":".join(CONTROL_PLANE).encode()).decode()
        mc = {"Authorization": f"Basic {basic}"}
        plan: list[tuple[str, str, dict[str, str]]] = [
            ("/_mc/stats (1 h)", f"{exec_url}/_mc/stats", mc),
            ("/_mc/stats (1 day)", f"{exec_url}/_mc/stats?window=86400", mc),
            (
                "/_mc/events from the archived head - 10 s",
                f"{exec_url}/_mc/events?cursor={head}",
                mc,
            ),
            ("/_mc/events from the start", f"{exec_url}/_mc/events", mc),
            ("history: newest page", history, api),
            ("history: by email", f"{history}?email={loaded.sample_email}", api),
            ("history: status deliveryFailed", f"{history}?status=deliveryFailed", api),
            (
                "history: type + last day",
                f"{history}?type=PASSWORD_RESET&since={day_ago}",
                api,
            ),
            ("history: by plId", f"{history}?plId={loaded.sample_pl_id}", api),
            ("history: page at offset 100,000", f"{history}?offset=100000", api),
        ]
        results = []
        for label, url, headers in plan:
            results.append(_time_calls(client, label, url.replace("+", "%2B"), calls, headers))
            _say(f"  {label}: median {results[-1].median:.1f} ms, worst {results[-1].worst:.1f} ms")
    return results


def intake(stack: StackRunner, body: bytes, seconds: int) -> WrkResult:
    """Single PushEvents to the execution instance, wrk -c32."""
    return run_wrk(
        stack.exec_url(1) + ROUTER,
        body=body,
        headers=HEADERS_ONE,
        connections=32,
        seconds=seconds,
    )


def _wait_idle(stack: StackRunner, timeout: float = 120) -> None:
    """Wait until the instance has no pending event (the last round's backlog is processed)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=30) as client:
        while time.monotonic() < deadline:
            body = client.get(f"{stack.exec_url(1)}/_mc/stats", auth=CONTROL_PLANE).json()
            if body["pending"]["rt"] + body["pending"]["batch"] == 0:
                return
            time.sleep(0.5)
    raise SystemExit("the execution instance did not drain its queue in time")


# -- main ----------------------------------------------------------------------------------------


def _report(
    options: argparse.Namespace,
    loaded: Loaded,
    rounds: list[tuple[WrkResult, WrkResult]],
    times: list[Timings],
) -> None:
    database = "PostgreSQL" if options.database == "postgres" else "SQLite"
    print(f"\n### {loaded.count:,} stored events, {database}\n")
    print(f"Loaded in {loaded.seconds:.0f} s (execution instance and archive).\n")
    print("Acknowledged (2xx) calls per second; errors are the calls answered otherwise.\n")
    print("| round | empty stack req/s (p99, errors) | full stack (p99, errors) | full / empty |")
    print("|---|---|---|---|")
    for n, (empty, full) in enumerate(rounds, start=1):
        print(
            f"| {n} | {empty.acknowledged_per_s:,.0f} ({empty.p99_ms:.1f} ms, {empty.errors}) | "
            f"{full.acknowledged_per_s:,.0f} ({full.p99_ms:.1f} ms, {full.errors}) | "
            f"{full.acknowledged_per_s / empty.acknowledged_per_s:.2f}x |"
        )
    ratio = statistics.median(f.acknowledged_per_s / e.acknowledged_per_s for e, f in rounds)
    verdict = "met" if ratio >= TARGET_RATIO else "**missed**"
    print(f"\nIntake, median of the rounds' ratios: **{ratio:.2f}x** (target >= 0.9x: {verdict})\n")
    print(f"| call ({options.calls} times) | median | worst | answer | <= {TARGET_MS:.0f} ms |")
    print("|---|---|---|---|---|")
    for timing in times:
        met = "met" if timing.worst <= TARGET_MS else "**missed**"
        print(
            f"| {timing.label} | {timing.median:.1f} ms | {timing.worst:.1f} ms | "
            f"{timing.detail} | {met} |"
        )


def _run(options: argparse.Namespace, folder: Path) -> None:
    postgres_url = None
    if options.database == "postgres":
        postgres_url = options.postgres_url or os.environ.get("MCSIM_TEST_POSTGRES_URL")
        if not postgres_url:
            raise SystemExit("--database postgres needs --postgres-url or MCSIM_TEST_POSTGRES_URL")
    env = {"MCSIM_MID_RETENTION_MAX_MESSAGES": "10000000"}
    targets: dict[str, Target] = {}
    prefixes: dict[str, str] = {}
    for name in ("empty", "full"):
        args: list[str] = []
        if postgres_url is not None:
            prefixes[name] = f"bench_stored_{name}"
            _drop_schemas(postgres_url, prefixes[name])
            args = ["--database-url", postgres_url, "--schema-prefix", prefixes[name]]
        targets[name] = Target(name, folder / name, args, env)
    body = push_event_envelope(event_xml(email="shopper@example.com", ctx=CTX)).encode()
    with ExitStack() as cleanup:
        for target in targets.values():
            cleanup.callback(target.stop)
        _say(f"creating the stacks' databases (load average {load_average()})")
        full = targets["full"]
        full.start()
        full.stop()
        exec_db, control_db = _databases(full, postgres_url, prefixes.get("full", ""))
        try:
            _say(f"loading {options.events:,} events over {options.span_days} days")
            loaded = load(
                exec_db,
                control_db,
                count=options.events,
                span=timedelta(days=options.span_days),
                instance_id=1,
            )
        finally:
            exec_db.dispose()
            control_db.dispose()
        _say(f"loaded in {loaded.seconds:.0f} s; starting both stacks")
        for target in targets.values():
            target.start()
        time.sleep(options.settle)  # the first archiving pass and the demo's set-up
        _say("answer times of the full stack")
        times = answer_times(full.stack, loaded, options.calls)
        rounds: list[tuple[WrkResult, WrkResult]] = []
        for n in range(1, options.rounds + 1):
            pair: dict[str, WrkResult] = {}
            order = ("empty", "full") if n % 2 else ("full", "empty")
            for name in order:
                _wait_idle(targets[name].stack)
                pair[name] = intake(targets[name].stack, body, options.seconds)
                _say(
                    f"round {n}: {name} {pair[name].acknowledged_per_s:,.0f} req/s acknowledged, "
                    f"{pair[name].errors} errors "
                    f"(load average {load_average()})"
                )
            rounds.append((pair["empty"], pair["full"]))
        _say("answer times of the full stack after the intake rounds")
        times += [
            Timings(f"{t.label} (after intake)", t.values, t.detail)
            for t in answer_times(full.stack, loaded, options.calls)
        ]
    if postgres_url is not None and not options.keep_data:
        for prefix in prefixes.values():
            _drop_schemas(postgres_url, prefix)
    _report(options, loaded, rounds, times)


def main(argv: Callable[[], list[str]] | None = None) -> None:
    """Load the data, run the rounds and print the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--span-days", type=float, default=7.0)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--calls", type=int, default=10, help="times each answer is timed")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds after the start")
    parser.add_argument("--keep-data", action="store_true")
    options = parser.parse_args(argv() if argv else None)
    folder = Path(tempfile.mkdtemp(prefix="mcsim-stored-"))
    try:
        _run(options, folder)
    finally:
        if options.keep_data:
            _say(f"data kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
