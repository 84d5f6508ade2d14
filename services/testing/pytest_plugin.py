"""The pytest plugin of mcsim (entry point ``pytest11``: ``mcsim``).

Fixtures, none of them autouse (a suite that does not ask for them runs as before):

* ``mcsim_stack`` (session): the URLs of the stack under test. By default the plugin starts
  one with ``mcsim up --demo`` in a temporary data directory on free loopback ports, once for
  the session, and stops it at the end. ``--mcsim-url`` (or ``MCSIM_URL``) attaches to a
  running stack instead, given its load balancer's URL (``--mcsim-mid-url`` and
  ``--mcsim-control-url`` when they are not on the default ports), or ``--mcsim-data-dir`` to
  the one a ``mcsim up --data-dir`` runs.
* ``mcsim``: a :class:`~services.testing.client.McsimClient` of that stack, after a reset, so
  that each test starts with no event, message, quarantine or chaos (the configuration stays).

Every option is prefixed ``--mcsim-``; the plugin imports nothing of the services.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.testing.client import McsimClient
from services.testing.stack import LocalStack, StackUrls, attach, urls_from_data_dir

__all__ = ["mcsim", "mcsim_stack", "pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--mcsim-*`` options."""
    group = parser.getgroup("mcsim", "mcsim: test against a local Adobe Campaign Message Center")
    group.addoption(
        "--mcsim-url",
        default=os.environ.get("MCSIM_URL"),
        help="Attach to a running stack: its load balancer's URL (env MCSIM_URL). "
        "Default: start a stack for the session.",
    )
    group.addoption(
        "--mcsim-mid-url",
        default=os.environ.get("MCSIM_MID_URL"),
        help="With --mcsim-url: the mid-sourcing server (default: port 8090 of its host).",
    )
    group.addoption(
        "--mcsim-control-url",
        default=os.environ.get("MCSIM_CONTROL_URL"),
        help="With --mcsim-url: the control instance (default: port 8070 of its host).",
    )
    group.addoption(
        "--mcsim-data-dir",
        default=None,
        help="Attach to the stack `mcsim up --data-dir DIR` runs (reads DIR/stack.json).",
    )
    group.addoption(
        "--mcsim-up-args",
        default=os.environ.get("MCSIM_UP_ARGS", ""),
        help="More `mcsim up` options for the stack the plugin starts, e.g. "
        "'--instances 2' or '--no-demo' (env MCSIM_UP_ARGS).",
    )


@pytest.fixture(scope="session")
def mcsim_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackUrls]:
    """Yield the URLs of the stack under test (started for the session unless attached)."""
    config = request.config
    url: str | None = config.getoption("--mcsim-url")
    data_dir: str | None = config.getoption("--mcsim-data-dir")
    if url:
        yield attach(
            url,
            mid=config.getoption("--mcsim-mid-url"),
            control=config.getoption("--mcsim-control-url"),
        )
        return
    if data_dir:
        yield urls_from_data_dir(Path(data_dir))
        return
    args = shlex.split(config.getoption("--mcsim-up-args") or "")
    instances, args = _instances(args)
    stack = LocalStack.start(tmp_path_factory.mktemp("mcsim"), instances=instances, args=args)
    try:
        assert stack.urls is not None
        yield stack.urls
    finally:
        stack.stop()


def _instances(args: list[str]) -> tuple[int, list[str]]:
    """Take ``--instances N`` (or ``=N``) out of ``args``: the runner chooses the ports, so it
    must know how many instances there are (default 1)."""
    rest: list[str] = []
    instances = 1
    items = iter(args)
    for item in items:
        name, equals, value = item.partition("=")
        if name != "--instances":
            rest.append(item)
            continue
        text = value if equals else next(items, "")
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 255:
            raise pytest.UsageError(f"--mcsim-up-args: --instances needs 1 to 255, not {text!r}")
        instances = int(text)
    return instances, rest


@pytest.fixture
def mcsim(mcsim_stack: StackUrls) -> Iterator[McsimClient]:
    """Yield a client of the stack under test, which it resets first."""
    with McsimClient(mcsim_stack) as client:
        client.reset()
        yield client
