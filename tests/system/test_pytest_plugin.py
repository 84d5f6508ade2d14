"""The pytest plugin as a user gets it (issue 16 item 2): another project's suite, outside this
repository, that has nothing but ``pip install mcsim`` (the ``pytest11`` entry point) runs the
README's example against a stack the plugin starts, or against a running one; a suite that does
not ask for the fixtures starts nothing; a wrong URL is said clearly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.stack import running_stack

pytestmark = pytest.mark.system

EXAMPLE = Path(__file__).parents[1] / "plugin" / "test_example.py"


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCSIM_")}
    options = ["-q", "-p", "no:cacheprovider", "--basetemp", str(folder / "tmp")]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options, *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _project(tmp_path: Path) -> Path:
    folder = tmp_path / "website"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "test_password_reset.py")
    return folder


def test_another_suite_runs_the_example_on_a_stack_the_plugin_starts(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    done = _pytest(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
    started = list((folder / "tmp").glob("mcsim*/stack.json"))
    assert started == []  # stopped at the end of the session (the supervisor removes it)
    assert list((folder / "tmp").glob("mcsim*/mcsim-up.log"))


def test_the_example_runs_against_a_running_stack(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    with running_stack(tmp_path / "data", "--demo", instances=2) as stack:
        done = _pytest(
            folder,
            f"--mcsim-url={stack.lb_url}",
            f"--mcsim-mid-url={stack.mid_url}",
            f"--mcsim-control-url={stack.control_url}",
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "4 passed" in done.stdout
        assert not list((folder / "tmp").glob("mcsim*"))  # no stack of its own

        by_data_dir = _pytest(folder, f"--mcsim-data-dir={stack.data_dir}", "-k", "bounce")
        assert by_data_dir.returncode == 0, by_data_dir.stdout + by_data_dir.stderr


def test_nothing_starts_unasked_and_wrong_urls_are_said_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "test_plain.py").write_text("def test_plain() -> None:\n    assert True\n")
    plain = _pytest(folder, "--setup-show")
    assert plain.returncode == 0 and "1 passed" in plain.stdout
    assert "mcsim" not in plain.stdout  # no fixture of the plugin was set up
    assert not list((folder / "tmp").glob("mcsim*"))
    fixtures = _pytest(folder, "--fixtures")
    assert "mcsim_stack [session scope]" in fixtures.stdout

    shutil.copy(EXAMPLE, folder / "test_password_reset.py")
    wrong = _pytest(folder, "--mcsim-url=not-a-url", "-k", "bounce")
    assert wrong.returncode == 1
    assert "'not-a-url' is not the URL of a load balancer" in wrong.stdout
    nobody = _pytest(folder, "--mcsim-url=http://127.0.0.1:9", "-k", "bounce")
    assert nobody.returncode == 1
    assert "cannot reach mcsim" in nobody.stdout
