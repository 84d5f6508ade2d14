"""Faults on PostgreSQL: restarted and unreachable under load, unreachable at start-up.

Issue 17, items 2 and 3. The stack runs on a throw-away PostgreSQL cluster of its own
(:class:`tests.support.pgcluster.PgCluster`; the shared server must never be restarted),
reached through a fault proxy, so that the database can be restarted (``pg_ctl restart``) or
cut off while the chaos schedule also kills every process type.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.chaos import Load, audit, run_with_faults, schedule
from tests.support.faultstack import start_fault_stack
from tests.support.pgcluster import PgCluster, postgres_bin
from tests.support.smtp import SmtpSink

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(postgres_bin() is None, reason="no PostgreSQL server binaries"),
]

FAST = {"MCSIM_EXEC_HANDOFF_RETRY_MAX_SECONDS": "4"}


@pytest.fixture
def pg() -> Iterator[PgCluster]:
    with PgCluster.start() as cluster:
        yield cluster


def test_an_audit_after_database_restarts_under_load_finds_nothing_lost(
    tmp_path: Path, pg: PgCluster
) -> None:
    with (
        SmtpSink() as relay,
        start_fault_stack(
            tmp_path / "data", relay, database_url=pg.url, database_port=pg.port, env=FAST
        ) as stack,
    ):
        steps = schedule(stack, every=4.0, hold=3.0, database=pg)
        load = Load(stack.lb_url, rate=5, seconds=steps[-1].at + 4, run=str(time.time_ns()))
        records = asyncio.run(run_with_faults(load, steps))
        result = asyncio.run(
            audit(load, relay, mid_kills_wall=stack.kill_times("midsourcing"), drain_timeout=60)
        )
        report = [
            f"{r.injected_at:5.1f}s {r.name}: recovered in {r.recovered_s}, error {r.error}"
            for r in records
        ] + result.lines()
        print("\n".join(report))
        assert all(r.error is None for r in records), report
        assert result.clean, report
        assert result.never_acked == 0, report
