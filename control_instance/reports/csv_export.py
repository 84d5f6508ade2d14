"""CSV export of a report's rows (``?format=csv``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from pydantic import BaseModel

__all__ = ["to_csv"]


def to_csv(rows: Sequence[BaseModel], columns: Sequence[str]) -> str:
    """Return the rows as CSV with a header line (empty values for None)."""
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.model_dump().items()})
    return out.getvalue()
