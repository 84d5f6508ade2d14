"""Keep what mcsim writes readable by its own user only (security review F12).

The data directory holds events with their ctx (personal data), captured messages, password
hashes, encrypted secrets and logs. Every mcsim process runs with umask 077, so whatever it
creates (SQLite files with their ``-wal``/``-shm``, logs, ``stack.json``) is 0600 and every folder
0700; ``mcsim up`` also tightens what an earlier version left readable in its data directory.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "private_process", "secure_data_dir"]

log = logging.getLogger("mcsim.files")

PRIVATE_UMASK = 0o077
#: What mcsim itself writes into a data directory, tightened to 0600 when found looser.
_OWN_FILES = ("*.sqlite3", "*.sqlite3-wal", "*.sqlite3-shm", "*.log", "stack.json", "*.key")


def private_process() -> None:
    """Make every file and folder this process (and its children) creates private."""
    os.umask(PRIVATE_UMASK)


def secure_data_dir(*folders: Path) -> None:
    """Create ``folders`` as 0700 and tighten mcsim's own files in them to 0600.

    A folder that already exists is tightened only when this user owns it and it is not a shared
    folder with the sticky bit (``/tmp``): pointing ``--data-dir`` there must not lock others out.
    """
    for folder in folders:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
        if info.st_uid != os.getuid() or info.st_mode & stat.S_ISVTX:
            continue
        if stat.S_IMODE(info.st_mode) & 0o077:
            folder.chmod(0o700)
            log.info("data folder made private", extra={"path": str(folder)})
        for pattern in _OWN_FILES:
            for path in folder.glob(pattern):
                if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077:
                    path.chmod(0o600)
