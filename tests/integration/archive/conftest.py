"""Archiving tests: a control instance and two in-process execution instances, loop off."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.control.conftest import Cell, control_cell


@pytest.fixture
async def cell(tmp_path: Path) -> AsyncIterator[Cell]:
    """Two execution instances; archiving runs only when a test asks for a pass."""
    async with control_cell(tmp_path, archive_interval_seconds=0) as running:
        yield running
