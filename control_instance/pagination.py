"""Pagination of list endpoints: ``?limit=&offset=`` in, ``{items, total, limit, offset}`` out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Path, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from services.safe_input import MAX_INT64

__all__ = ["Page", "PageDep", "PageParams", "fetch_page"]

T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class PageParams:
    """Which page a caller asked for."""

    limit: int = 50
    offset: int = 0


def provide_page(
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page.")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT64, description="Items to skip.")] = 0,
) -> PageParams:
    """Read the page parameters of a list request."""
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(provide_page)]


def fetch_page(session: Session, statement: Select[R], page: PageParams) -> tuple[list[R], int]:
    """Return one page of an ordered statement's rows, and how many rows there are in all."""
    # Counted without the ORDER BY: SQLite would otherwise sort every matching row to count them.
    counted = statement.order_by(None).subquery()
    total = session.execute(select(func.count()).select_from(counted)).scalar_one()
    rows = session.execute(statement.limit(page.limit).offset(page.offset)).scalars().all()
    return list(rows), int(total)


#: The id of a row in a path: out of the database's range it is refused (400), not a crash.
RowId = Annotated[int, Path(ge=1, le=MAX_INT64)]
#: A plId in a path: a signed 64-bit number (services/plid.py).
PlIdPath = Annotated[int, Path(ge=-(2**63), le=2**63 - 1)]
