"""The version of mcsim, read from the installed distribution."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION = version("mcsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    VERSION = "0.0.0+source"
