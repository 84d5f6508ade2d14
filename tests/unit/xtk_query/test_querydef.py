"""Reading <queryDef>: operations, select/orderBy nodes, where trees and refusals."""

from __future__ import annotations

import pytest
from lxml import etree

from services.errors import InvalidRequest
from services.xtk_query import QueryOperation, read_query
from services.xtk_query.expression import BoolOp, Comparison, Field, Literal


def read(markup: str):  # type: ignore[no-untyped-def]
    return read_query(etree.fromstring(markup))


def refused(markup: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        read(markup)
    return caught.value


def eq(name: str, value: int = 1) -> Comparison:
    return Comparison("=", Field(f"@{name}"), Literal(value, str(value)))


def where(*conditions: str) -> str:
    return (
        '<queryDef schema="nms:rtEvent" operation="select"><where>'
        + "".join(conditions)
        + "</where></queryDef>"
    )


def test_the_sdk_query_of_sample_600() -> None:
    query = read(
        '<queryDef schema="nms:rtEvent" operation="get" xtkschema="xtk:queryDef"><select>'
        '<node expr="@id"/><node expr="@status"/></select><where>'
        '<condition expr="@id=13"/></where></queryDef>'
    )
    assert query.schema == "nms:rtEvent"
    assert query.operation is QueryOperation.GET
    assert [(n.field.path, n.name) for n in query.select] == [("@id", "id"), ("@status", "status")]
    assert query.where == eq("id", 13)
    assert (query.line_count, query.start_line, query.order_by) == (None, 0, ())


@pytest.mark.parametrize("operation", ["get", "getIfExists", "select", "count"])
def test_operations(operation: str) -> None:
    query = read(f'<queryDef schema="a:b" operation="{operation}"/>')
    assert query.operation.value == operation
    assert query.where is None


def test_aliases_order_by_and_paging() -> None:
    query = read(
        '<queryDef schema="a:b" operation="select" lineCount="10" startLine="20">'
        '<select><node expr="@id" alias="@key"/><node expr="[enum/@name]"/></select>'
        '<orderBy><node expr="@created" sortDesc="true"/><node expr="@id"/></orderBy></queryDef>'
    )
    assert [(n.field.path, n.name) for n in query.select] == [
        ("@id", "key"),
        ("enum/@name", "enum/@name"),
    ]
    assert [(n.field.path, n.descending) for n in query.order_by] == [
        ("@created", True),
        ("@id", False),
    ]
    assert (query.line_count, query.start_line) == (10, 20)


def test_top_level_conditions_are_anded() -> None:
    query = read(where('<condition expr="@a=1"/>', '<condition expr="@b=1"/>'))
    assert query.where == BoolOp("AND", (eq("a"), eq("b")))


def test_bool_operator_joins_a_condition_to_the_next_and_and_binds_tighter() -> None:
    query = read(
        where(
            '<condition expr="@a=1" boolOperator="OR"/>',
            '<condition expr="@b=1"/>',
            '<condition expr="@c=1" bool-operator="or"/>',
            '<condition expr="@d=1"/>',
        )
    )
    # a OR (b AND c) OR d
    assert query.where == BoolOp("OR", (eq("a"), BoolOp("AND", (eq("b"), eq("c"))), eq("d")))


def test_nested_condition_groups() -> None:
    query = read(
        where(
            '<condition><condition expr="@a=1" boolOperator="OR"/>'
            '<condition expr="@b=1"/></condition>',
            '<condition expr="@c=1"/>',
        )
    )
    assert query.where == BoolOp("AND", (BoolOp("OR", (eq("a"), eq("b"))), eq("c")))


@pytest.mark.parametrize(
    ("markup", "named"),
    [
        ("<select/>", "not a <queryDef>"),
        ('<queryDef operation="get"/>', "'schema'"),
        ('<queryDef schema="rtEvent" operation="get"/>', "'schema'"),
        ('<queryDef schema="a:b" operation="delete"/>', "operation 'delete'"),
        ('<queryDef schema="a:b" operation="select" lineCount="-1"/>', "lineCount"),
        ('<queryDef schema="a:b" operation="select" startLine="x"/>', "startLine"),
        ('<queryDef schema="a:b" operation="select" sql="DROP TABLE x"/>', "'sql'"),
        ('<queryDef schema="a:b" operation="select"><groupBy/></queryDef>', "<groupBy>"),
        ('<queryDef schema="a:b" operation="select"><where/><where/></queryDef>', "more than one"),
        (
            '<queryDef schema="a:b" operation="select"><select><node sql="1"/></select></queryDef>',
            "'sql'",
        ),
        (
            '<queryDef schema="a:b" operation="select"><select><node expr="@a"/>'
            '<node expr="@b" alias="@a"/></select></queryDef>',
            "selected twice",
        ),
        (
            '<queryDef schema="a:b" operation="select"><select><node expr="@a" alias="1x"/>'
            "</select></queryDef>",
            "alias",
        ),
        (
            '<queryDef schema="a:b" operation="select"><select><field expr="@a"/>'
            "</select></queryDef>",
            "<field>",
        ),
        (
            '<queryDef schema="a:b" operation="select"><orderBy><node expr="@a" '
            'sortDesc="maybe"/></orderBy></queryDef>',
            "sortDesc",
        ),
        (where('<condition expr="@a=1" boolOperator="EXCEPT"/>'), "EXCEPT"),
        (where("<condition/>"), "no expr"),
        (where('<condition expr="@a=1"><condition expr="@b=1"/></condition>'), "not both"),
        (where('<condition expr="@a=1" sql="1=1"/>'), "'sql'"),
        (where("<and/>"), "<and>"),
        (where("<condition>" * 20 + '<condition expr="@a=1"/>' + "</condition>" * 20), "deeper"),
        (where('<condition expr="@a=1"/>' * 300), "at most"),
    ],
)
def test_refusals(markup: str, named: str) -> None:
    error = refused(markup)
    assert type(error) is InvalidRequest
    text = f"{error.message} {error.detail or ''}"
    assert named in text, text
