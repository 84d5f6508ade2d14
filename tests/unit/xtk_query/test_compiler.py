"""Compiled queries run on SQLite: every operator's rows, bound values, and refusals."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.errors import InvalidRequest
from services.xtk_query import HARD_ROW_LIMIT, build_statement, execute_query, read_query
from services.xtk_query.compiler import compile_condition
from services.xtk_query.expression import parse_condition
from services.xtk_query.render import row_element
from tests.unit.xtk_query.conftest import thing_schema


def ids(session: Session, *conditions: str, extra: str = "", order: str = "") -> list[int]:
    where = "".join(f"<condition expr={quote(c)}/>" for c in conditions)
    markup = (
        f'<queryDef schema="tst:thing" operation="select"{extra}><select><node expr="@id"/>'
        f"</select><where>{where}</where>{order}</queryDef>"
    )
    query = read_query(etree.fromstring(markup))
    rows = session.execute(build_statement(query, thing_schema(), dialect="sqlite")).all()
    return [row[0] for row in rows]


def quote(expression: str) -> str:
    return '"' + expression.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;") + '"'


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("@status = 2", [2, 4]),
        ("@status != 2", [1, 3]),
        ("@status <> 2", [1, 3]),
        ("@status < 2", [1]),
        ("@status <= 2", [1, 2, 4]),
        ("@status > 2", [3]),
        ("@status >= 2", [2, 3, 4]),
        ("2 < @status", [3]),
        ("@status IN (0, 4)", [1, 3]),
        ("@status NOT IN (0, 4)", [2, 4]),
        ("@email LIKE '%@example.com'", [1, 3]),
        ("@email LIKE 'cid%'", []),
        ("@email LIKE 'Cid\\_x%'", [3]),
        ("@email LIKE '___@%'", [1, 2]),
        ("@email NOT LIKE '%.com'", [2]),
        ("@email IS NULL", [4]),
        ("@email IS NOT NULL", [1, 2, 3]),
        ("@email = 'ann@example.com'", [1]),
        ("@flag = true", [1, 4]),
        ("@flag = 0", [2, 3]),
        ("@created > #2026-11-02 10:00:00.000Z#", [3, 4]),
        ("@created <= '2026-11-02 10:00:00.000Z'", [1, 2]),
        ("@id = '3'", [3]),
        ("[enum/@name] = 'eventType'", [1, 2, 3, 4]),
        ("[enum/@name] = 'other'", []),
        ("@status = 2 OR @status = 4 AND @email IS NULL", [2, 4]),
        ("(@status = 2 OR @status = 4) AND @email IS NOT NULL", [2, 3]),
        ("@id = @status", [2]),
        ("@status < @id", [1, 4]),
    ],
)
def test_each_operator_selects_the_right_rows(
    session: Session, condition: str, expected: list[int]
) -> None:
    assert ids(session, condition) == expected


def test_the_schema_filter_always_applies(session: Session) -> None:
    assert ids(session, "@email = 'other@example.com'") == []


def test_order_paging_and_the_hard_limit(session: Session) -> None:
    order = '<orderBy><node expr="@status" sortDesc="true"/></orderBy>'
    assert ids(session, "@id > 0", order=order) == [3, 2, 4, 1]
    assert ids(session, "@id > 0", order=order, extra=' lineCount="2" startLine="1"') == [2, 4]
    assert ids(session, "@id > 0", extra=' lineCount="0"') == []
    query = read_query(
        etree.fromstring('<queryDef schema="tst:thing" operation="select" lineCount="999999"/>')
    )
    statement = build_statement(query, thing_schema(), dialect="sqlite")
    assert statement._limit == HARD_ROW_LIMIT  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("condition", "named"),
    [
        ("@nope = 1", "Unknown attribute '@nope'"),
        ("@status = 'two'", "'two'"),
        ("@status = 40000", "out of range"),
        ("@tiny = 128", "out of range"),
        ("@id = 9223372036854775808", "out of range"),
        ("@status = true", None),
        ("@flag = 2", "true or false"),
        ("@created = 3", "datetime"),
        ("@created = 'yesterday'", "datetime"),
        ("@email = #2026-01-01#", "text"),
        ("@email = true", "text"),
        ("@status LIKE '1%'", "LIKE applies to text"),
        ("@email = @status", "cannot be compared"),
        ("@created IN (1)", "datetime"),
    ],
)
def test_type_and_name_refusals(condition: str, named: str | None) -> None:
    parsed = parse_condition(condition)
    if named is None:  # booleans are 0/1 numbers, as in Campaign
        compile_condition(parsed, thing_schema(), dialect="sqlite")
        return
    with pytest.raises(InvalidRequest) as caught:
        compile_condition(parsed, thing_schema(), dialect="sqlite")
    assert type(caught.value) is InvalidRequest
    assert named in f"{caught.value.message} {caught.value.detail}"


def test_values_are_bound_never_inlined() -> None:
    condition = parse_condition(r"@email = 'x\' OR 1=1 --' OR @email LIKE '%DROP TABLE%'")
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        name = "sqlite" if isinstance(dialect, sqlite.dialect) else "postgresql"
        compiled = compile_condition(condition, thing_schema(), dialect=name).compile(
            dialect=dialect
        )
        sql = str(compiled)
        assert "DROP" not in sql and "1=1" not in sql, sql
        assert "x' OR 1=1 --" in compiled.params.values()


def test_like_is_case_sensitive_glob_on_sqlite_and_escaped_like_on_postgresql() -> None:
    condition = parse_condition(r"@email LIKE 'a*b?[c]%\%_'")
    on_sqlite = compile_condition(condition, thing_schema(), dialect="sqlite").compile(
        dialect=sqlite.dialect()
    )
    assert "GLOB" in str(on_sqlite)
    assert list(on_sqlite.params.values()) == ["a[*]b[?][[]c]*%?"]
    on_pg = compile_condition(condition, thing_schema(), dialect="postgresql").compile(
        dialect=postgresql.dialect()
    )
    assert "LIKE" in str(on_pg) and "ESCAPE" in str(on_pg)
    assert next(iter(on_pg.params.values())) == r"a*b?[c]%\%_"


def test_get_get_if_exists_count_and_select_render(session: Session) -> None:
    def answer(operation: str, where: str, select: str = '<node expr="@id"/>') -> str:
        markup = (
            f'<queryDef schema="tst:thing" operation="{operation}"><select>{select}</select>'
            f'<where><condition expr="{where}"/></where></queryDef>'
        )
        output = execute_query(session, read_query(etree.fromstring(markup)), thing_schema())
        match = re.fullmatch(
            r"<pdomOutput xsi:type='ns:Element' [^>]*>(.*)</pdomOutput>", output.markup
        )
        assert match is not None, output.markup
        return match.group(1)

    assert answer("get", "@id=1") == '<thing id="1"/>'
    assert answer("getIfExists", "@id=9") == "<thing/>"
    assert answer("count", "@status=2") == '<thing count="2"/>'
    assert answer("select", "@id=9") == "<thing-collection/>"
    assert answer("select", "@id&lt;3") == (
        '<thing-collection><thing id="1"/><thing id="2"/></thing-collection>'
    )
    everything = (
        '<node expr="@id" alias="@key"/><node expr="@email"/><node expr="@flag"/>'
        '<node expr="@created"/><node expr="[enum/@name]"/>'
    )
    assert answer("get", "@id=4", everything) == (
        '<thing key="4" email="" flag="1" created="2026-11-04 10:00:00.000Z">'
        '<enum name="eventType"/></thing>'
    )
    with pytest.raises(InvalidRequest) as caught:
        answer("get", "@id=9")
    assert "No 'tst:thing' matches the query" in caught.value.message


def test_values_are_escaped_and_unusable_characters_replaced() -> None:
    markup = row_element("thing", ["a", "b/@c"], ["x\"<&>'\n\t\x01", None])
    assert markup == '<thing a="x&quot;&lt;&amp;&gt;&apos;&#10;&#9;\ufffd"><b c=""/></thing>'
    parsed = etree.fromstring(markup)
    assert parsed.get("a") == "x\"<&>'\n\t\ufffd"
