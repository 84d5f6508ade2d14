"""What a long-lived mcsim process can do without: import this first in a service's ``__main__``.

httpx imports its command-line client (click, rich and pygments: about 3 MiB in every process)
whenever those packages are installed, as typer installs them, and falls back to a stub when the
import fails. No service runs httpx's command line, so the import is made to fail.
"""

from __future__ import annotations

import sys

__all__: list[str] = []

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
