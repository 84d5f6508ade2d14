"""The README's IMS integration example is the file the system suite runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_ims_example_is_the_file_the_suite_runs() -> None:
    example = (ROOT / "tests" / "system" / "ims_integration.py").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"```python\n{example}```" in readme
