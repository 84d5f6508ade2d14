"""What mcsim writes is readable by its own user only (security review F12)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from services.private_files import secure_data_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_earlier_versions_data_dir_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    logs = data / "logs"
    logs.mkdir(parents=True)
    data.chmod(0o755)
    logs.chmod(0o755)
    files = [data / "control.sqlite3", data / "control.sqlite3-wal", logs / "control.log"]
    for path in [*files, data / "stack.json"]:
        path.write_text("x")
        path.chmod(0o644)
    other = data / "notes.txt"  # not mcsim's: left as the user made it
    other.write_text("mine")
    other.chmod(0o644)
    secure_data_dir(data, logs)
    assert (_mode(data), _mode(logs)) == (0o700, 0o700)
    assert {_mode(p) for p in [*files, data / "stack.json"]} == {0o600}
    assert _mode(other) == 0o644


def test_new_folders_are_private_and_a_shared_sticky_folder_is_left_alone(tmp_path: Path) -> None:
    fresh = tmp_path / "new" / "data"
    secure_data_dir(fresh)
    assert _mode(fresh) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    secure_data_dir(shared)
    assert _mode(shared) == 0o1777


def test_a_service_process_creates_private_files(tmp_path: Path) -> None:
    # umask is per process: check it in a child, as run_service sets it there. The modes are
    # read while the database is open (SQLite removes its -wal file on close).
    code = (
        "import json, sqlite3, stat, sys; from pathlib import Path;"
        "from services.private_files import private_process; private_process();"
        "d = Path(sys.argv[1]) / 'data'; d.mkdir();"
        "c = sqlite3.connect(d / 'x.sqlite3'); c.execute('pragma journal_mode=wal');"
        "c.execute('create table t(x)'); c.commit(); (d / 'x.log').write_text('log');"
        "print(json.dumps({p.name: stat.S_IMODE(p.stat().st_mode) for p in [d, *d.iterdir()]}))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], check=True, env=env, capture_output=True
    )
    modes = json.loads(done.stdout)
    assert set(modes) >= {"data", "x.sqlite3", "x.sqlite3-wal", "x.sqlite3-shm", "x.log"}
    assert modes.pop("data") == 0o700
    assert set(modes.values()) == {0o600}
