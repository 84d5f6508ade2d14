"""Property: any condition text is either refused with the one documented fault, or compiled
to SQL whose text comes only from the schema (the caller's values are bound parameters), and
then runs without a database error."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.errors import InvalidRequest
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
