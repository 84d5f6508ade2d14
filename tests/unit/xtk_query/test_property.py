"""Property: any condition text is either refused with the one documented fault, or compiled
to SQL whose text comes only from the schema (the caller's values are bound parameters), and
then runs without a database error."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.errors import InvalidRequest
from services.xtk_query import execute_query, read_query
from services.xtk_query.compiler import compile_condition
from services.xtk_query.expression import parse_condition
from tests.unit.xtk_query.conftest import thing_schema, things

FRAGMENTS = [
    "@id",
    "@status",
    "@email",
    "@flag",
    "@created",
    "@tiny",
    "[enum/@name]",
    "[@id]",
    "@nope",
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    " IN ",
    " NOT ",
    " LIKE ",
    " IS ",
    " NULL ",
    " AND ",
    " OR ",
    " and ",
    "(",
    ")",
    ",",
    "'",
    "\\",
    "\\'",
    "'x'",
    "'%a_'",
    "'\\%'",
    "'2'",
    "''",
    "1",
    "-1",
    "0",
    "128",
    "40000",
    "99999999999999999999",
    "#2026-01-01#",
    "#x#",
    "'2026-11-02 10:00:00.000Z'",
    "true",
    "false",
    " ",
    ";",
    "--",
    "/*",
    "*/",
    "SELECT",
    " DROP TABLE things",
    "Lower(",
    "GetDate()",
    "1.5",
    "$1",
    '"',
    "[",
    "]",
    "#",
    "é",
]
# What XML can carry: no NUL, no lone surrogates, no other C0 control but tab and newlines.
XML_CHARACTERS = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="".join(chr(c) for c in range(32) if c not in (9, 10, 13)),
)
XML_TEXT = st.text(XML_CHARACTERS, max_size=20)


def escape_xtk(text: str) -> str:
    """Return ``text`` quoted as the JS SDK's ``escapeXtk`` does."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


FIELDS = st.sampled_from(
    ["@id", "@status", "@email", "@flag", "@created", "@tiny", "[enum/@name]", "[@email]"]
)
VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    XML_TEXT.map(escape_xtk),
    st.sampled_from(["true", "FALSE", "#2026-01-01#", "'2026-11-02 10:00:00.000Z'", "@status"]),
)
PREDICATES = st.one_of(
    st.tuples(FIELDS, st.sampled_from(["=", "!=", "<>", "<", "<=", ">", ">="]), VALUES).map(
        " ".join
    ),
    st.tuples(
        FIELDS, st.sampled_from([" IN ", " not in "]), st.lists(VALUES, min_size=1, max_size=4)
    ).map(lambda t: f"{t[0]}{t[1]}({', '.join(t[2])})"),
    st.tuples(FIELDS, st.sampled_from([" LIKE ", " NOT LIKE "]), XML_TEXT.map(escape_xtk)).map(
        "".join
    ),
    st.tuples(FIELDS, st.sampled_from([" IS NULL", " IS NOT NULL"])).map("".join),
)
WELL_FORMED = st.recursive(
    PREDICATES,
    lambda inner: st.tuples(inner, st.sampled_from([" AND ", " OR "]), inner).map(
        lambda t: f"({t[0]}{t[1]}{t[2]})"
    ),
    max_leaves=8,
)
CONDITIONS = st.one_of(
    st.text(XML_CHARACTERS, max_size=120),
    st.lists(st.sampled_from(FRAGMENTS), max_size=24).map("".join),
    WELL_FORMED,
    st.tuples(WELL_FORMED, st.sampled_from(FRAGMENTS), WELL_FORMED).map("".join),
)
SCHEMA_WORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "GLOB",
    "LIKE",
    "ESCAPE",
    "BIGINT",
    "SMALLINT",
    "VARCHAR",
    "BOOLEAN",
    "TIMESTAMP",
    "WITH",
    "TIME",
    "ZONE",
    "INTEGER",
    "things",
    "id",
    "status",
    "email",
    "flag",
    "created",
    "tiny",
    "kind",
}
_PARAM = re.compile(r"(param|id|status|email|flag|created|tiny)_\d+(_\d+)?")


def _check_sql(sql: str) -> None:
    assert "'" not in sql.replace("ESCAPE '\\'", ""), sql
    for name in re.findall(r"%\((\w+)\)s", sql):  # PostgreSQL's placeholders
        assert _PARAM.fullmatch(name), (name, sql)
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r"%\(\w+\)s", "?", sql)):
        assert word in SCHEMA_WORDS, (word, sql)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=CONDITIONS)
def test_conditions_are_refused_or_compiled_from_the_schema_only(
    session: Session, text: str
) -> None:
    schema = thing_schema()
    refusal: InvalidRequest | None = None
    try:
        condition = parse_condition(text)
        on_sqlite = compile_condition(condition, schema, dialect="sqlite")
        on_postgres = compile_condition(condition, schema, dialect="postgresql")
    except InvalidRequest as error:
        refusal = error
    if refusal is not None:
        assert type(refusal) is InvalidRequest
        assert refusal.message
        return
    statement = select(things.c.id).where(on_sqlite)
    options = {"render_postcompile": True}
    _check_sql(str(statement.compile(dialect=sqlite.dialect(), compile_kwargs=options)))
    pg = select(things.c.id).where(on_postgres)
    _check_sql(str(pg.compile(dialect=postgresql.dialect(), compile_kwargs=options)))
    session.execute(statement).all()  # and the database accepts it


ATTRIBUTE_TEXT = st.one_of(
    st.text(XML_CHARACTERS, max_size=12),
    st.sampled_from(["0", "1", "10", "-1", "²", "true", "OR", "and", "@id", "@a b", "select"]),
)
NODE_EXPRS = st.one_of(FIELDS, FIELDS, FIELDS, st.text(XML_CHARACTERS, max_size=12))
COUNTS = st.one_of(st.integers(0, 9).map(str), st.integers(0, 9).map(str), ATTRIBUTE_TEXT)


def _element(tag: str, **attributes: str | None) -> etree._Element:
    element = etree.Element(tag)
    for name, value in attributes.items():
        if value is not None:
            element.set(name, value)
    return element


@st.composite
def query_defs(draw: st.DrawFn) -> etree._Element:
    """Return a ``<queryDef>`` built from plausible and arbitrary pieces."""
    root = _element(
        "queryDef",
        schema=draw(st.sampled_from(["tst:thing"] * 6 + ["nms:rtEvent", "thing", ""])),
        operation=draw(st.sampled_from(["get", "getIfExists", "select", "count"] * 3 + ["x"])),
        lineCount=draw(st.none() | COUNTS),
        startLine=draw(st.none() | COUNTS),
    )
    if draw(st.booleans()):
        select = etree.SubElement(root, "select")
        for _ in range(draw(st.integers(0, 4))):
            node = etree.SubElement(select, draw(st.sampled_from(["node"] * 9 + ["field"])))
            node.set("expr", draw(NODE_EXPRS))
            alias = draw(st.none() | st.none() | ATTRIBUTE_TEXT)
            if alias is not None:
                node.set("alias", alias)
    if draw(st.booleans()):
        where = etree.SubElement(root, "where")
        parents = [where]
        for _ in range(draw(st.integers(0, 5))):
            parent = draw(st.sampled_from(parents))
            condition = etree.SubElement(parent, "condition")
            if draw(st.integers(0, 3)) == 0:
                parents.append(condition)
            else:
                condition.set("expr", draw(st.one_of(WELL_FORMED, WELL_FORMED, CONDITIONS)))
            operator = draw(st.none() | st.sampled_from(["OR", "AND", "or", "EXCEPT"]))
            if operator is not None:
                condition.set("boolOperator", operator)
    if draw(st.booleans()):
        order = etree.SubElement(root, "orderBy")
        node = etree.SubElement(order, "node", expr=draw(NODE_EXPRS))
        desc = draw(st.none() | ATTRIBUTE_TEXT)
        if desc is not None:
            node.set("sortDesc", desc)
    return root


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=query_defs())
def test_query_documents_are_refused_or_answered(
    session: Session, document: etree._Element
) -> None:
    refusal: InvalidRequest | None = None
    try:
        query = read_query(document)
        output = (
            execute_query(session, query, thing_schema()) if query.schema == "tst:thing" else None
        )
    except InvalidRequest as error:
        refusal = error
    if refusal is not None:
        assert type(refusal) is InvalidRequest
        return
    assert output is None or output.markup.startswith("<pdomOutput ")
