"""Test against mcsim from your own test suite (issue 16): a client and a stack runner.

``pip install mcsim`` brings a pytest plugin (:mod:`services.testing.pytest_plugin`, registered
through the ``pytest11`` entry point) with the fixtures ``mcsim_stack`` and ``mcsim``. The
client and the runner work without pytest too.
"""

from services.testing.client import (
    CapturedMessage,
    EventState,
    McsimCallError,
    McsimClient,
    PostedEvent,
    WaitTimeout,
)
from services.testing.stack import LocalStack, StackUrls, attach, urls_from_data_dir

__all__ = [
    "CapturedMessage",
    "EventState",
    "LocalStack",
    "McsimCallError",
    "McsimClient",
    "PostedEvent",
    "StackUrls",
    "WaitTimeout",
    "attach",
    "urls_from_data_dir",
]
