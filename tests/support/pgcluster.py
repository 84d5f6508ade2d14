"""A throw-away PostgreSQL cluster of our own, which tests may stop and restart at will.

The shared server on 127.0.0.1:5432 must never be restarted; this one lives in a temporary
folder, on a free port, run with Debian's ``/usr/lib/postgresql/*/bin`` tools (as the
``postgres`` user when the tests run as root: ``initdb`` refuses root)::

    with PgCluster.start() as pg:
        url = pg.url              # postgresql://mcsim@127.0.0.1:PORT/mcsim (trust auth)
        pg.restart()              # pg_ctl restart -m fast
        pg.stop(); pg.start_server()
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.support.smtp import free_port

__all__ = ["PgCluster", "postgres_bin"]


def postgres_bin() -> Path | None:
    """Return the newest ``/usr/lib/postgresql/N/bin`` that has ``initdb``, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


class PgCluster:
    """One PostgreSQL cluster in a temporary folder."""

    def __init__(self, folder: Path, port: int, bin_dir: Path) -> None:
        self.folder = folder
        self.port = port
        self.bin = bin_dir
        self.data = folder / "data"
        self.log = folder / "postgres.log"

    @property
    def url(self) -> str:
        """Return the URL of the ``mcsim`` database (user ``mcsim``, no password)."""
        return f"postgresql://mcsim@127.0.0.1:{self.port}/mcsim"

    @classmethod
    def start(cls) -> PgCluster:
        """Create the cluster, start it and create the ``mcsim`` database."""
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        folder = Path(tempfile.mkdtemp(prefix="mcsim-pg-"))
        cluster = cls(folder, free_port(), bin_dir)
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(folder, user.pw_uid, user.pw_gid)
        cluster._run("initdb", "-D", str(cluster.data), "-U", "mcsim", "-A", "trust", "-E", "UTF8")
        cluster.start_server()
        cluster._run("createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "mcsim", "mcsim")
        return cluster

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def _ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", options, *args,
        )  # fmt: skip

    def start_server(self) -> None:
        """Start the server (waits until it accepts connections)."""
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients; ``immediate``: as a crash)."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60")

    def restart(self, mode: str = "fast") -> None:
        """Restart the server (every client connection is closed)."""
        self.stop(mode)
        self.start_server()

    def destroy(self) -> None:
        """Stop the server if it runs and delete the folder."""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.destroy()
