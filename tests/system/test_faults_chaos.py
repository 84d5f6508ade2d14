"""Sustained load while every process type is killed and the links break; then an audit.

Issue 17, item 2, short form (about 2 minutes): REST and SOAP clients push events through the
load balancer for ~60 s (REST retrying with its Idempotency-Key, SOAP retrying only what was
never acknowledged) while :func:`tests.support.chaos.schedule` kills each kind of process
(execution instance, one of its web and processing processes, mid-sourcing, the load balancer,
the control instance), partitions an instance from mid-sourcing, hangs and pauses mid-sourcing,
pauses an instance, resets and slows links. Afterwards every event is accounted for: nothing
acknowledged is lost, nothing is sent twice except in the counted at-least-once window
(mid-sourcing SIGKILLed between an SMTP send and its commit), which is printed, not hidden.
The long form is ``mcsim bench chaos``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.chaos import Load, audit_stack, drive, run_report, schedule
from tests.support.faultstack import start_fault_stack
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.system

#: Short hand-off retries: a partition of a few seconds must not leave events waiting a minute.
FAST = {"MCSIM_EXEC_HANDOFF_RETRY_MAX_SECONDS": "4"}


@pytest.mark.chaos
def test_an_audit_after_faults_under_load_finds_nothing_lost_or_doubled(tmp_path: Path) -> None:
    with SmtpSink() as relay, start_fault_stack(tmp_path / "data", relay, env=FAST) as stack:
        steps = schedule(stack, every=3.5, hold=3.0)
        load = Load(stack.lb_url, rate=6, seconds=steps[-1].at + 4, run=str(time.time_ns()))
        records = drive(load, steps)
        result = audit_stack(load, relay, stack, drain_timeout=60)
        report = "\n".join(run_report(records, result))
        print(report)
        assert all(r.error is None for r in records), report
        kinds = {name for _, name, what in stack.injected if what.startswith("SIGKILL")}
        assert kinds >= {"execution-1", "execution-2", "midsourcing", "load_balancer", "control"}
        assert result.acked > 0.9 * result.logical, report
        assert result.clean, report
        assert result.never_acked == 0, report
