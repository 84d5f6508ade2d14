"""What a service lets ``xtk:queryDef#ExecuteQuery`` read: schemas and their attributes.

A :class:`Schema` is a whitelist: each attribute a query may select, filter or sort on maps to
one SQLAlchemy column expression written by the service, never to text from the caller.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, FromClause

from services.errors import InvalidRequest

__all__ = ["Attribute", "Schema", "SchemaMap", "XtkType"]


class XtkType(enum.Enum):
    """Campaign's attribute types that mcsim's schemas use, with their integer ranges."""

    STRING = "string"
    BOOLEAN = "boolean"
    BYTE = "byte"
    SHORT = "short"
    LONG = "long"
    INT64 = "int64"
    DATETIME = "datetime"

    @property
    def is_integer(self) -> bool:
        """Return whether values of this type are whole numbers."""
        return self in _RANGES

    @property
    def range(self) -> tuple[int, int]:
        """Return the smallest and largest value of an integer type."""
        return _RANGES[self]


_RANGES = {
    XtkType.BYTE: (-(2**7), 2**7 - 1),
    XtkType.SHORT: (-(2**15), 2**15 - 1),
    XtkType.LONG: (-(2**31), 2**31 - 1),
    XtkType.INT64: (-(2**63), 2**63 - 1),
}


@dataclass(frozen=True)
class Attribute:
    """One queryable attribute: its XTK type and the column expression that holds it."""

    type: XtkType
    column: ColumnElement[Any]


@dataclass(frozen=True)
class Schema:
    """One queryable schema (``nms:rtEvent``): where its rows live and what can be read.

    ``attributes`` are keyed by path (``@id``, ``enum/@name``); ``where`` restricts the
    source to this schema's rows (the real-time queue of the events table); ``key`` orders
    rows when the query does not, so that ``startLine`` pages are stable.
    """

    name: str
    source: FromClause
    attributes: Mapping[str, Attribute]
    key: tuple[ColumnElement[Any], ...]
    where: ColumnElement[bool] | None = None
    not_found_hint: str = ""  # added to the fault of a 'get' that matches no row

    @property
    def element(self) -> str:
        """Return the name of a row element: the schema's name without its namespace."""
        return self.name.partition(":")[2]

    def attribute(self, path: str) -> Attribute:
        """Return the attribute at ``path``; an unknown one is a fault that names it."""
        found = self.attributes.get(path)
        if found is None:
            raise InvalidRequest(
                f"Unknown attribute '{path}' in schema '{self.name}'.",
                detail="attributes that can be queried: " + ", ".join(self.attributes),
            )
        return found


class SchemaMap:
    """The schemas a service answers queries on, by name (``nms:rtEvent``)."""

    def __init__(self, schemas: list[Schema]) -> None:
        self._schemas = {schema.name: schema for schema in schemas}

    def get(self, name: str) -> Schema:
        """Return the schema called ``name``; an unknown one is a fault that names it."""
        found = self._schemas.get(name)
        if found is None:
            raise InvalidRequest(
                f"Unknown schema '{name}'.",
                detail="schemas that can be queried here: " + ", ".join(self._schemas),
            )
        return found

    def names(self) -> list[str]:
        """Return the names of the schemas, in the order given."""
        return list(self._schemas)
