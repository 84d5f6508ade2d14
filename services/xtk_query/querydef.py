"""Read a ``<queryDef>`` document, as Campaign clients send it to ``ExecuteQuery``.

::

    <queryDef schema="nms:rtEvent" operation="select" lineCount="10" startLine="0">
      <select><node expr="@id"/><node expr="@status" alias="@state"/></select>
      <where>
        <condition expr="@status=0" boolOperator="OR"/>
        <condition>
          <condition expr="@type='A'"/><condition expr="@email LIKE '%@x.org'"/>
        </condition>
      </where>
      <orderBy><node expr="@created" sortDesc="true"/></orderBy>
    </queryDef>

A condition's ``boolOperator`` (``AND`` by default, or ``OR``; ``bool-operator`` is read too)
joins it to the next condition; AND binds tighter than OR, as in the SQL Campaign writes from
it. A condition holds an ``expr`` or child conditions (a group), not both. Everything the
reader does not know is refused rather than ignored, so a query never means less than it says.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from lxml import etree

from services.errors import InvalidRequest
from services.xtk_query.expression import BoolOp, Condition, Field, parse_condition, parse_field

__all__ = ["MAX_CONDITIONS", "OrderNode", "QueryDef", "QueryOperation", "SelectNode", "read_query"]

#: Most conditions (expressions and groups) one query may hold.
MAX_CONDITIONS = 256
_MAX_NODES = 256
_SCHEMA = re.compile(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z][A-Za-z0-9_]*")
_COUNT = re.compile(r"[0-9]{1,9}")
_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_RAW_SQL = ("sql", "sqlFunc", "sqlExpr")


class QueryOperation(enum.Enum):
    """The operations of ``ExecuteQuery`` that mcsim answers."""

    GET = "get"
    GET_IF_EXISTS = "getIfExists"
    SELECT = "select"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class SelectNode:
    """One selected attribute and the name it is rendered under (its alias, without ``@``)."""

    field: Field
    name: str


@dataclass(frozen=True, slots=True)
class OrderNode:
    """One sort key."""

    field: Field
    descending: bool


@dataclass(frozen=True, slots=True)
class QueryDef:
    """A parsed query: nothing in it is SQL, every name is checked against a schema later."""

    schema: str
    operation: QueryOperation
    select: tuple[SelectNode, ...]
    where: Condition | None
    order_by: tuple[OrderNode, ...]
    line_count: int | None
    start_line: int


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(element: etree._Element) -> list[etree._Element]:
    return [child for child in element if isinstance(child.tag, str)]


def _refuse_raw_sql(element: etree._Element) -> None:
    for name in _RAW_SQL:
        if element.get(name) is not None:
            raise InvalidRequest(
                f"The attribute '{name}' of <{_local(element)}> is refused: "
                "a query never runs SQL sent by the caller.",
                detail=f"{name}={element.get(name)!r}",
            )


def _integer(element: etree._Element, name: str, *, default: int | None) -> int | None:
    text = element.get(name)
    if text is None or not text.strip():
        return default
    value = text.strip()
    if not _COUNT.fullmatch(value):
        raise InvalidRequest(
            f"The attribute '{name}' of <queryDef> must be a whole number from 0 to 999999999.",
            detail=f"{name}={text!r}",
        )
    return int(value)


def _flag(element: etree._Element, name: str) -> bool:
    text = (element.get(name) or "false").strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    raise InvalidRequest(
        f"The attribute '{name}' must be true or false.", detail=f"{name}={element.get(name)!r}"
    )


def read_query(element: etree._Element) -> QueryDef:
    """Return the query held by a ``<queryDef>`` element; refuse what mcsim does not answer."""
    if _local(element) != "queryDef":
        raise InvalidRequest(
            f"The document is <{_local(element)}>, not a <queryDef>.",
            detail="ExecuteQuery reads <queryDef schema='…' operation='…'> as its first "
            "XML parameter",
        )
    _refuse_raw_sql(element)
    schema = (element.get("schema") or "").strip()
    if not _SCHEMA.fullmatch(schema):
        raise InvalidRequest(
            "The attribute 'schema' of <queryDef> must name a schema ('nms:rtEvent').",
            detail=f"schema={element.get('schema')!r}",
        )
    text = (element.get("operation") or "").strip()
    try:
        operation = QueryOperation(text)
    except ValueError:
        raise InvalidRequest(
            f"Unknown or unsupported query operation '{text}'.",
            detail="operations answered: " + ", ".join(op.value for op in QueryOperation),
        ) from None
    select: tuple[SelectNode, ...] = ()
    where: Condition | None = None
    order_by: tuple[OrderNode, ...] = ()
    seen: set[str] = set()
    for child in _children(element):
        name = _local(child)
        if name in seen:
            raise InvalidRequest(f"<queryDef> holds more than one <{name}>.")
        seen.add(name)
        if name == "select":
            select = _read_select(child)
        elif name == "where":
            where = _read_where(child)
        elif name == "orderBy":
            order_by = _read_order_by(child)
        else:
            raise InvalidRequest(
                f"<{name}> is not supported in a query.",
                detail="a <queryDef> here holds <select>, <where> and <orderBy>",
            )
    return QueryDef(
        schema=schema,
        operation=operation,
        select=select,
        where=where,
        order_by=order_by,
        line_count=_integer(element, "lineCount", default=None),
        start_line=_integer(element, "startLine", default=0) or 0,
    )


def _nodes(parent: etree._Element) -> list[etree._Element]:
    nodes = _children(parent)
    if len(nodes) > _MAX_NODES:
        raise InvalidRequest(f"<{_local(parent)}> holds more than {_MAX_NODES} nodes.")
    for node in nodes:
        if _local(node) != "node":
            raise InvalidRequest(
                f"<{_local(parent)}> holds <node expr='@…'/> elements, not <{_local(node)}>."
            )
        _refuse_raw_sql(node)
        if _children(node):
            raise InvalidRequest(
                "Nested <node> elements are not supported.",
                detail=f"in <{_local(parent)}>, under <node expr={node.get('expr')!r}>",
            )
    return nodes


def _read_select(parent: etree._Element) -> tuple[SelectNode, ...]:
    selected: list[SelectNode] = []
    names: set[str] = set()
    for node in _nodes(parent):
        field = parse_field(node.get("expr") or "")
        alias = (node.get("alias") or "").strip()
        if alias:
            name = alias.removeprefix("@")
            if not _OUTPUT_NAME.fullmatch(name):
                raise InvalidRequest(
                    f"The alias {alias!r} is not an attribute name ('@name').",
                    detail=f"<node expr={node.get('expr')!r} alias={alias!r}>",
                )
        else:
            name = field.path.removeprefix("@")  # 'enum/@name' stays a path: a child element
        if name in names:
            raise InvalidRequest(
                f"'{name}' is selected twice: give one of them an alias ('@other').",
            )
        names.add(name)
        selected.append(SelectNode(field, name))
    return tuple(selected)


def _read_order_by(parent: etree._Element) -> tuple[OrderNode, ...]:
    return tuple(
        OrderNode(parse_field(node.get("expr") or ""), _flag(node, "sortDesc"))
        for node in _nodes(parent)
    )


def _read_where(parent: etree._Element) -> Condition | None:
    counter = [0]
    return _read_group(parent, counter, depth=0)


def _read_group(parent: etree._Element, counter: list[int], *, depth: int) -> Condition | None:
    """Combine the conditions under ``parent``: each one's boolOperator joins it to the next."""
    if depth > 16:
        raise InvalidRequest("Conditions nest deeper than 16 levels.")
    terms: list[Condition] = []
    operators: list[str] = []
    for child in _children(parent):
        if _local(child) != "condition":
            raise InvalidRequest(
                f"<{_local(parent)}> holds <condition> elements, not <{_local(child)}>."
            )
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            raise InvalidRequest(f"A query holds at most {MAX_CONDITIONS} conditions.")
        terms.append(_read_condition(child, counter, depth=depth))
        operators.append(_bool_operator(child))
    if not terms:
        return None
    # AND binds tighter than OR: split the chain at each OR, AND the runs between.
    runs: list[list[Condition]] = [[terms[0]]]
    for operator, term in zip(operators, terms[1:], strict=False):
        if operator == "OR":
            runs.append([term])
        else:
            runs[-1].append(term)
    anded = [run[0] if len(run) == 1 else BoolOp("AND", tuple(run)) for run in runs]
    return anded[0] if len(anded) == 1 else BoolOp("OR", tuple(anded))


def _read_condition(element: etree._Element, counter: list[int], *, depth: int) -> Condition:
    _refuse_raw_sql(element)
    expr = element.get("expr")
    has_children = bool(_children(element))
    if expr is not None and has_children:
        raise InvalidRequest(
            "A <condition> holds either an expr or child conditions, not both.",
            detail=f"<condition expr={expr!r}> has child elements",
        )
    if has_children:
        group = _read_group(element, counter, depth=depth + 1)
        assert group is not None
        return group
    if expr is None or not expr.strip():
        raise InvalidRequest("A <condition> has no expr and no child conditions.")
    return parse_condition(expr)


def _bool_operator(element: etree._Element) -> str:
    text = element.get("boolOperator")
    if text is None:
        text = element.get("bool-operator")
    value = (text or "AND").strip().upper()
    if value not in ("AND", "OR"):
        raise InvalidRequest(
            f"Unknown or unsupported boolOperator '{text}' (AND or OR).",
            detail=f"on <condition expr={element.get('expr')!r}>",
        )
    return value
