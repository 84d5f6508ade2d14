"""What every schemathesis test here checks, whatever the service."""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

_EXPLORE = os.environ.get("MCSIM_FUZZ_EXAMPLES")
#: Hypothesis settings of every fuzz test: a few cases per operation keep the suite short (the
#: operations are many, and each case is a real HTTP call), and the same cases every run, so
#: that the suite never fails on a case it had not tried before. MCSIM_FUZZ_EXAMPLES=500
#: explores: that many random cases per operation, new ones each run.
FUZZ = settings(
    max_examples=int(_EXPLORE or 15),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not _EXPLORE,
)


def cap_waits(case: schemathesis.Case) -> None:
    """A long-poll's ``wait`` (up to 25 s, tested on its own) is cut to a tenth of a second."""
    query: dict[str, Any] = case.query if isinstance(case.query, dict) else {}
    wait = query.get("wait")
    try:
        if wait is not None and float(wait) > 0.1:
            query["wait"] = 0.1
    except (TypeError, ValueError):
        pass  # not a number: refused at once


def check_answer(case: schemathesis.Case, answer: Any) -> None:
    """No server error (a 502/503/504 names a peer that is down: allowed); every JSON error in
    mcsim's one shape, or OAuth's on the IMS token service (as IMS answers)."""
    assert answer.status_code != 500, (case.as_curl_command(), answer.text[:500])
    kind = " ".join(answer.headers.get("content-type") or [])
    if answer.status_code >= 400 and kind.startswith("application/json"):
        body = answer.json()
        shape = {"error", "error_description"} if case.path.startswith("/ims/") else None
        assert {"error", "message"} <= set(body) or (shape is not None and shape <= set(body)), (
            case.as_curl_command(),
            body,
        )
