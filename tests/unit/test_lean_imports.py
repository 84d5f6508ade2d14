"""A service's process leaves out the imports it never uses (issue 15, footprint)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "service", ["control_instance", "execution_instance", "midsourcing", "load_balancer"]
)
def test_a_service_process_imports_neither_httpx_command_line_nor_alembic(service: str) -> None:
    # what `python -m <service>` imports before it reads its settings
    probe = (
        "import runpy, sys; "
        f"runpy.run_module('{service}.__main__', run_name='probe'); "
        "import httpx; httpx.Client().close(); "
        "print(sorted(m for m in ('rich', 'pygments', 'alembic', 'mako') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stderr
