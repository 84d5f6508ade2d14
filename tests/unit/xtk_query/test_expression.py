"""The XTK expression parser: what it reads, how it binds, and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.errors import InvalidRequest
from services.xtk_query.expression import (
    MAX_DEPTH,
    MAX_LENGTH,
    BoolOp,
    Comparison,
    Field,
    InList,
    IsNull,
    Like,
    Literal,
    parse_condition,
    parse_field,
)


def refused(expression: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse_condition(expression)
    assert type(caught.value) is InvalidRequest
    return caught.value


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_every_comparison_operator(op: str) -> None:
    assert parse_condition(f"@status {op} 3") == Comparison(op, Field("@status"), Literal(3, "3"))


def test_angle_brackets_mean_not_equal() -> None:
    assert parse_condition("@status<>3") == Comparison("!=", Field("@status"), Literal(3, "3"))


def test_sample_600_expressions() -> None:
    assert parse_condition("@id=13") == Comparison("=", Field("@id"), Literal(13, "13"))
    assert parse_condition("[enum/@name]='eventType'") == Comparison(
        "=", Field("enum/@name"), Literal("eventType", "'eventType'")
    )
    assert parse_condition("@isMessageCenter=true") == Comparison(
        "=", Field("@isMessageCenter"), Literal(True, "true")
    )


def test_bracketed_attributes_and_negative_numbers() -> None:
    assert parse_condition("[@id] = -5") == Comparison("=", Field("@id"), Literal(-5, "-5"))


def test_in_like_and_null_tests() -> None:
    assert parse_condition("@status IN (0, 1,2)") == InList(
        Field("@status"), (Literal(0, "0"), Literal(1, "1"), Literal(2, "2"))
    )
    assert parse_condition("@type not in ('A')") == InList(
        Field("@type"), (Literal("A", "'A'"),), negated=True
    )
    assert parse_condition("@email LIKE '%@x.org'") == Like(
        Field("@email"), Literal("%@x.org", "'%@x.org'")
    )
    assert parse_condition("@email NOT LIKE 'a%'").negated is True  # type: ignore[union-attr]
    assert parse_condition("@email IS NULL") == IsNull(Field("@email"))
    assert parse_condition("@email is not null") == IsNull(Field("@email"), negated=True)


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (Comparison("=", Field(f"@{n}"), Literal(1, "1")) for n in "abc")
    assert parse_condition("@a=1 OR @b=1 AND @c=1") == BoolOp("OR", (a, BoolOp("AND", (b, c))))
    assert parse_condition("@a=1 AND @b=1 OR @c=1") == BoolOp("OR", (BoolOp("AND", (a, b)), c))
    assert parse_condition("(@a=1 OR @b=1) AND @c=1") == BoolOp("AND", (BoolOp("OR", (a, b)), c))
    assert parse_condition("@a=1 and @b=1 and @c=1") == BoolOp("AND", (a, b, c))
    assert parse_condition("((@a=1))") == a


def test_string_quoting_as_escape_xtk_writes_it() -> None:
    # sdk.escapeXtk("Rock 'n' Roll") == "'Rock \\'n\\' Roll'"
    assert parse_condition(r"@name='Rock \'n\' Roll'") == Comparison(
        "=", Field("@name"), Literal("Rock 'n' Roll", r"'Rock \'n\' Roll'")
    )
    assert parse_condition(r"@name='a\\b'").right == Literal("a\\b", r"'a\\b'")  # type: ignore[union-attr]
    assert parse_condition("@name=''").right == Literal("", "''")  # type: ignore[union-attr]
    text = "@name='x'' OR ''1'='1'"  # SQL's doubled quotes are not XTK's: refused
    assert "after a complete condition" in refused(text).message


def test_a_quote_inside_a_string_stays_data() -> None:
    condition = parse_condition(r"@email='x\' OR 1=1'")
    assert condition == Comparison("=", Field("@email"), Literal("x' OR 1=1", r"'x\' OR 1=1'"))


def test_datetimes() -> None:
    moment = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    for text in ("#2026-11-28 10:00:00.000Z#", "#2026-11-28T10:00:00Z#", "#2026-11-28 10:00#"):
        assert parse_condition(f"@created >= {text}").right == Literal(moment, text)  # type: ignore[union-attr]
    assert "not a datetime" in refused("@created > #yesterday#").message


def test_constants_on_the_left() -> None:
    assert parse_condition("13=@id") == Comparison("=", Literal(13, "13"), Field("@id"))


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("@email='x' OR 1=1--", "'-'"),
        ("@id=1;DROP TABLE events", "';'"),
        ("@id=1 /* comment */", "'/'"),
        ("@id IN (SELECT id FROM events)", "Subqueries"),
        ("(SELECT 1) = @id", "Subqueries"),
        ("Lower(@email)='a'", "function 'Lower'"),
        ("@email = upper('A')", "function 'upper'"),
        ("1=1", "two constants"),
        ("'a'='a'", "two constants"),
        ("@id", "not a condition"),
        ("@id = ", "found the end"),
        ("", "empty"),
        ("@id = 13abc", "'1'"),
        ("@id = 1.5", "not an integer"),
        ("@id = 99999999999999999999999999", "out of range"),
        ("@email = 'open", "Unterminated"),
        ("@email = email", "Unknown name 'email'"),
        ("@email == 'a'", "'='"),
        ("@email NOT = 'a'", "NOT ="),
        ("NOT @email = 'a'", "Expected an attribute"),
        ("@email IS 'a'", "Expected NULL"),
        ("@email = NULL", "IS NULL"),
        ("@id IN ()", "Expected an attribute or a value"),
        ("@id IN (@status)", "constants"),
        ("@id LIKE @email", "string pattern"),
        ("'a' LIKE 'b'", "applies to an attribute"),
        ("@id BETWEEN 1 AND 2", "Unknown operator 'BETWEEN'"),
        ("[enum/name]='x'", "not an attribute path"),
        ("[@id]]", "']'"),
        ("@id = 1 @id = 2", "after a complete condition"),
        ("(@id = 1", "Expected ')'"),
        ("@id = $1", "'$'"),
        ('@id = "1"', "'\"'"),
    ],
)
def test_refusals_name_the_problem(expression: str, named: str) -> None:
    error = refused(expression)
    assert named in error.message, error.message
    assert error.detail is not None and repr(expression) in error.detail


def test_nesting_and_length_are_bounded() -> None:
    assert "deeper" in refused("(" * (MAX_DEPTH + 1) + "@id=1" + ")" * (MAX_DEPTH + 1)).message
    parse_condition("(" * MAX_DEPTH + "@id=1" + ")" * MAX_DEPTH)
    assert "too long" in refused("@id=1 OR " * (MAX_LENGTH // 8) + "@id=1").message


def test_select_and_order_fields() -> None:
    assert parse_field("@id") == Field("@id")
    assert parse_field(" [enum/@name] ") == Field("enum/@name")
    for text, named in [
        ("Count(@id)", "function 'Count'"),
        ("@id + 1", "'+'"),
        ("'a'", "Expected an attribute"),
        ("", "empty"),
        ("@id, @status", "','"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            parse_field(text)
        assert named in caught.value.message, caught.value.message
