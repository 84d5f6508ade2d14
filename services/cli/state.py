"""The state file ``<data-dir>/stack.json``: what a running ``mcsim up`` started, and where.

``mcsim status`` and the tests read it; the supervisor rewrites it whenever a pid changes and
removes it on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ServiceState",
    "StackState",
    "read_state",
    "remove_state",
    "supervisor_alive",
    "write_state",
]


@dataclass
class ServiceState:
    """One service of a running stack."""

    name: str
    label: str
    service: str
    url: str
    port: int
    pid: int | None
    log_file: str
    instance_id: int | None = None


@dataclass
class StackState:
    """A running stack: its supervisor and services."""

    supervisor_pid: int
    state: str
    data_dir: str
    log_dir: str
    started_at: str
    services: list[ServiceState] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)


def write_state(path: Path, state: StackState) -> None:
    """Write ``state`` to ``path`` atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_state(path: Path) -> StackState | None:
    """Return the state in ``path``, or None when there is no readable state file."""
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        services = [ServiceState(**entry) for entry in raw.pop("services", [])]
        return StackState(**raw, services=services)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def remove_state(path: Path, *, owner_pid: int) -> None:
    """Remove ``path`` if it was written by the supervisor ``owner_pid``."""
    state = read_state(path)
    if state is not None and state.supervisor_pid == owner_pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def supervisor_alive(state: StackState) -> bool:
    """Return whether the supervisor that wrote ``state`` still runs."""
    pid = state.supervisor_pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        # Pids are reused: make sure it is an mcsim supervisor, not whoever got the number.
        with contextlib.suppress(OSError):
            text = cmdline.read_bytes()
            return b"mcsim" in text or b"services.cli" in text
    return True
