"""Compile a :class:`QueryDef` to one SQLAlchemy Core ``SELECT`` over a :class:`Schema`.

Every attribute is looked up in the schema's whitelist and every constant becomes a bound
parameter of the attribute's type, checked first (range, datetime, text): the statement is
built from the service's own column expressions and the caller's values, never from text.

``LIKE`` is case-sensitive on both databases, as on PostgreSQL (where Campaign runs): on SQLite,
whose ``LIKE`` ignores case, the pattern is translated to ``GLOB``.
"""

from __future__ import annotations

import operator
import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, not_, or_, select

from services.errors import InvalidRequest
from services.xtk_query.expression import (
    BoolOp,
    Comparison,
    Condition,
    Field,
    InList,
    IsNull,
    Like,
    Literal,
    parse_datetime,
)
from services.xtk_query.querydef import QueryDef, QueryOperation, SelectNode
from services.xtk_query.schema import Attribute, Schema, XtkType

__all__ = ["HARD_ROW_LIMIT", "build_statement", "compile_condition", "selected_nodes"]

#: Most rows one query returns, whatever its lineCount says.
HARD_ROW_LIMIT = 10_000

_OPERATORS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_INTEGER = re.compile(r"-?[0-9]{1,22}")  # ASCII digits only: str.isdigit() takes '²' too
_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def selected_nodes(query: QueryDef, schema: Schema) -> tuple[SelectNode, ...]:
    """Return what the query selects; without a ``<select>``, every attribute of the schema."""
    if query.select:
        return query.select
    return tuple(SelectNode(Field(path), path.removeprefix("@")) for path in schema.attributes)


def build_statement(query: QueryDef, schema: Schema, *, dialect: str) -> Select[Any]:
    """Return the statement answering ``query`` (``dialect``: ``sqlite`` or ``postgresql``)."""
    conditions: list[ColumnElement[bool]] = []
    if schema.where is not None:
        conditions.append(schema.where)
    if query.where is not None:
        conditions.append(compile_condition(query.where, schema, dialect=dialect))
    if query.operation is QueryOperation.COUNT:
        return select(func.count()).select_from(schema.source).where(*conditions)
    columns = [
        schema.attribute(node.field.path).column.label(f"c{index}")
        for index, node in enumerate(selected_nodes(query, schema))
    ]
    order = []
    for node in query.order_by:
        column = schema.attribute(node.field.path).column
        order.append(column.desc() if node.descending else column.asc())
    statement = (
        select(*columns).select_from(schema.source).where(*conditions).order_by(*order, *schema.key)
    )
    if query.operation is QueryOperation.SELECT:
        limit = HARD_ROW_LIMIT if query.line_count is None else query.line_count
        statement = statement.limit(min(limit, HARD_ROW_LIMIT))
    else:  # get / getIfExists: the first row
        statement = statement.limit(1)
    return statement.offset(query.start_line) if query.start_line else statement


def compile_condition(condition: Condition, schema: Schema, *, dialect: str) -> ColumnElement[bool]:
    """Return the SQL expression of one parsed condition over ``schema``."""
    if isinstance(condition, BoolOp):
        parts = [compile_condition(item, schema, dialect=dialect) for item in condition.items]
        return and_(*parts) if condition.op == "AND" else or_(*parts)
    if isinstance(condition, Comparison):
        return _comparison(condition, schema)
    if isinstance(condition, InList):
        attribute = schema.attribute(condition.field.path)
        values = [_value(value, attribute, condition.field) for value in condition.values]
        column = attribute.column
        return column.not_in(values) if condition.negated else column.in_(values)
    if isinstance(condition, IsNull):
        column = schema.attribute(condition.field.path).column
        return column.is_not(None) if condition.negated else column.is_(None)
    return _like(condition, schema, dialect=dialect)


def _comparison(condition: Comparison, schema: Schema) -> ColumnElement[bool]:
    left, op, right = condition.left, condition.op, condition.right
    if isinstance(left, Literal):  # '13' = @id reads as @id = '13'
        left, right, op = right, left, _FLIPPED[op]
    assert isinstance(left, Field)
    attribute = schema.attribute(left.path)
    if isinstance(right, Field):
        other = schema.attribute(right.path)
        if _family(attribute.type) != _family(other.type):
            raise InvalidRequest(
                f"'{left.path}' ({attribute.type.value}) cannot be compared with "
                f"'{right.path}' ({other.type.value}).",
            )
        value: Any = other.column
    else:  # bound with the column's type: SQLAlchemy would special-case True, False, None
        value = literal(_value(right, attribute, left), attribute.column.type)
    compared: ColumnElement[bool] = _OPERATORS[op](attribute.column, value)
    return compared


def _family(kind: XtkType) -> str:
    return "number" if kind.is_integer or kind is XtkType.BOOLEAN else kind.value


def _value(literal: Literal, attribute: Attribute, field: Field) -> Any:
    """Return ``literal`` as a value of the attribute's type; refuse what does not fit."""
    kind, value = attribute.type, literal.value
    if kind is XtkType.STRING:
        if isinstance(value, bool | datetime):
            raise _mismatch(literal, field, kind)
        return str(value) if isinstance(value, int) else value
    if kind is XtkType.DATETIME:
        if isinstance(value, datetime):
            return value
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            raise _mismatch(literal, field, kind)
        return moment
    if kind is XtkType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "0", "1"):
            return value.strip().lower() in ("true", "1")
        raise _mismatch(literal, field, kind)
    # an integer type
    number: int
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise _mismatch(literal, field, kind)
    low, high = kind.range
    if not low <= number <= high:
        raise InvalidRequest(
            f"{literal.text} is out of range for '{field.path}' ({kind.value}: {low} to {high}).",
        )
    return number


def _mismatch(literal: Literal, field: Field, kind: XtkType) -> InvalidRequest:
    wanted = {
        XtkType.STRING: "text in single quotes",
        XtkType.DATETIME: "a datetime ('2026-11-28 10:00:00.000Z' or #2026-11-28#)",
        XtkType.BOOLEAN: "true or false",
    }.get(kind, "a whole number")
    return InvalidRequest(
        f"{literal.text} is not a value of '{field.path}' ({kind.value}): expected {wanted}.",
    )


def _like(condition: Like, schema: Schema, *, dialect: str) -> ColumnElement[bool]:
    attribute = schema.attribute(condition.field.path)
    if attribute.type is not XtkType.STRING:
        raise InvalidRequest(
            f"LIKE applies to text, and '{condition.field.path}' is a {attribute.type.value}.",
        )
    pattern = condition.pattern.value
    assert isinstance(pattern, str)
    column = attribute.column
    matched: ColumnElement[bool]
    if dialect == "sqlite":
        matched = column.op("GLOB", is_comparison=True)(_glob(pattern))
    else:
        matched = column.like(pattern, escape="\\")
    return not_(matched) if condition.negated else matched


def _glob(pattern: str) -> str:
    """Translate a LIKE pattern (``%``, ``_``, ``\\`` escapes) to SQLite's case-sensitive GLOB."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(_glob_literal(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(_glob_literal(char))
    if escaped:
        out.append(_glob_literal("\\"))
    return "".join(out)


def _glob_literal(char: str) -> str:
    return f"[{char}]" if char in "*?[" else char
