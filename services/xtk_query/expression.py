"""Campaign's XTK expressions, as ``queryDef`` conditions write them: a strict, small parser.

The grammar is the subset a Message Center client sends (``@id=13``,
``[enum/@name]='eventType'``, ``@status IN (0, 1) AND @email LIKE '%@example.com'``)::

    condition  := or
    or         := and ( OR and )*
    and        := primary ( AND primary )*
    primary    := '(' condition ')' | predicate
    predicate  := operand ( ('=' | '!=' | '<>' | '<' | '<=' | '>' | '>=') operand
                          | [NOT] IN '(' literal ( ',' literal )* ')'
                          | [NOT] LIKE literal
                          | IS [NOT] NULL )
    operand    := field | literal
    field      := '@name' | '[' ( name '/' )* '@name' ']'
    literal    := 'string' | number | #datetime# | TRUE | FALSE

Strings are in single quotes with backslash escapes (``\\'``, ``\\\\``), as the JS SDK's
``escapeXtk`` writes them; any other backslash stays, for LIKE's ``\\%`` and ``\\_``.
Keywords are case-insensitive. Anything else (a function call, a subquery, a semicolon, a
comment) is refused with :class:`InvalidRequest` naming it and its position: the text of an
expression never reaches SQL, only the tree built here does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from services.errors import InvalidRequest

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "BoolOp",
    "Comparison",
    "Condition",
    "Field",
    "InList",
    "IsNull",
    "Like",
    "Literal",
    "Operand",
    "parse_condition",
    "parse_datetime",
    "parse_field",
]

#: Longest expression read (characters) and deepest nesting of parentheses.
MAX_LENGTH = 4096
MAX_DEPTH = 32
_MAX_IN_VALUES = 1000


@dataclass(frozen=True, slots=True)
class Field:
    """An attribute of the queried schema: ``@id``, or a path such as ``enum/@name``."""

    path: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: text, an integer, a boolean or a datetime (``#2026-11-28 10:00:00.000Z#``)."""

    value: str | int | bool | datetime
    text: str  # as written, for faults and for numbers compared with text attributes


Operand = Field | Literal


@dataclass(frozen=True, slots=True)
class Comparison:
    """``left <op> right``; ``op`` is one of ``= != < <= > >=`` (``<>`` is read as ``!=``)."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class InList:
    """``field [NOT] IN (v1, v2, …)``."""

    field: Field
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Like:
    """``field [NOT] LIKE 'pattern'`` (``%`` any text, ``_`` one character, ``\\`` escapes)."""

    field: Field
    pattern: Literal
    negated: bool = False


@dataclass(frozen=True, slots=True)
class IsNull:
    """``field IS [NOT] NULL``."""

    field: Field
    negated: bool = False


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``AND`` or ``OR`` over two or more conditions."""

    op: str
    items: tuple[Condition, ...]


Condition = Comparison | InList | Like | IsNull | BoolOp

_COMPARISONS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "IS", "NULL", "TRUE", "FALSE"})
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_PATH = re.compile(rf"(?:{_NAME}/)*@{_NAME}")
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<field>@[A-Za-z_][A-Za-z0-9_-]*)
    | (?P<path>\[[^\]]*\])
    | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<unterminated>')
    | (?P<date>\#[^#]*\#)
    | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?![A-Za-z0-9_.]))
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op><>|!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\([\\'])")  # only what escapeXtk writes: LIKE keeps its own


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # field, string, date, number, word, op, punct, end
    text: str
    position: int


def _fault(message: str, expression: str, position: int | None = None) -> InvalidRequest:
    where = "" if position is None else f" at position {position}"
    return InvalidRequest(message, detail=f"in the expression {expression!r}{where}")


def _tokenize(expression: str) -> list[_Token]:
    if len(expression) > MAX_LENGTH:
        raise InvalidRequest(
            f"The expression is too long ({len(expression)} characters, at most {MAX_LENGTH}).",
            detail=f"in the expression {expression[:80]!r}…",
        )
    tokens: list[_Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise _fault(
                f"Unexpected character {expression[position]!r} in the expression.",
                expression,
                position,
            )
        kind = match.lastgroup
        assert kind is not None
        text = match.group()
        if kind == "unterminated":
            raise _fault("Unterminated string: a quote is not closed.", expression, position)
        if kind == "path":
            inner = text[1:-1].strip()
            if not _PATH.fullmatch(inner):
                raise _fault(
                    f"{text!r} is not an attribute path (expected '[@name]' or '[link/@name]').",
                    expression,
                    position,
                )
            tokens.append(_Token("field", inner, position))
        elif kind != "space":
            tokens.append(_Token(kind, text, position))
        position = match.end()
    tokens.append(_Token("end", "", len(expression)))
    return tokens


def parse_datetime(text: str) -> datetime | None:
    """Return an XTK or ISO 8601 datetime (naive means UTC), or None when it is not one."""
    value = text.strip()
    if not 10 <= len(value) <= 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or one that leaves the calendar in UTC
        return None


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.index = 0
        self.depth = 0

    # -- helpers ---------------------------------------------------------------------------
    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_word(self, *words: str) -> bool:
        token = self.current
        return token.kind == "word" and token.text.upper() in words

    def is_punct(self, text: str) -> bool:
        return self.current.kind == "punct" and self.current.text == text

    def fault(self, message: str, token: _Token | None = None) -> InvalidRequest:
        return _fault(message, self.expression, (token or self.current).position)

    def expect_punct(self, text: str) -> None:
        if not self.is_punct(text):
            raise self.fault(f"Expected {text!r}, found {self.describe(self.current)}.")
        self.advance()

    def describe(self, token: _Token) -> str:
        return "the end of the expression" if token.kind == "end" else repr(token.text)

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> Condition:
        if self.current.kind == "end":
            raise self.fault("The expression is empty.")
        condition = self.parse_or()
        if self.current.kind != "end":
            raise self.fault(
                f"Unexpected {self.describe(self.current)} after a complete condition "
                "(conditions are joined with AND or OR)."
            )
        return condition

    def parse_or(self) -> Condition:
        items = [self.parse_and()]
        while self.is_word("OR"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def parse_and(self) -> Condition:
        items = [self.parse_primary()]
        while self.is_word("AND"):
            self.advance()
            items.append(self.parse_primary())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def parse_primary(self) -> Condition:
        if self.is_punct("("):
            opening = self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fault(f"Parentheses nest deeper than {MAX_DEPTH} levels.", opening)
            if self.is_word("SELECT", "WITH", "VALUES"):
                raise self.fault("Subqueries are not supported in an expression.")
            inner = self.parse_or()
            self.expect_punct(")")
            self.depth -= 1
            return inner
        return self.parse_predicate()

    def parse_predicate(self) -> Condition:
        start = self.current
        left = self.parse_operand()
        token = self.current
        if token.kind == "op":
            self.advance()
            right = self.parse_operand()
            op = "!=" if token.text == "<>" else token.text
            if isinstance(left, Literal) and isinstance(right, Literal):
                raise self.fault(
                    "A comparison needs an attribute of the schema on one side "
                    f"({left.text} {token.text} {right.text} compares two constants).",
                    start,
                )
            return Comparison(op, left, right)
        negated = False
        if self.is_word("NOT"):
            self.advance()
            negated = True
            if not self.is_word("IN", "LIKE"):
                raise self.fault(
                    f"Unknown operator 'NOT {self.current.text}' (expected NOT IN or NOT LIKE)."
                )
        if self.is_word("IN"):
            self.advance()
            return InList(self.field_of(left, "IN", start), self.parse_list(), negated)
        if self.is_word("LIKE"):
            self.advance()
            pattern = self.parse_operand()
            if not isinstance(pattern, Literal) or not isinstance(pattern.value, str):
                raise self.fault("LIKE takes a string pattern in quotes ('%@example.com').")
            return Like(self.field_of(left, "LIKE", start), pattern, negated)
        if self.is_word("IS"):
            self.advance()
            is_not = False
            if self.is_word("NOT"):
                self.advance()
                is_not = True
            if not self.is_word("NULL"):
                raise self.fault(f"Expected NULL after IS, found {self.describe(self.current)}.")
            self.advance()
            return IsNull(self.field_of(left, "IS NULL", start), is_not)
        if token.kind == "end" or self.is_word("AND", "OR") or self.is_punct(")"):
            raise self.fault(
                f"{self.describe(start)} is not a condition: compare it with an operator "
                "(= != < <= > >= IN LIKE IS NULL).",
                start,
            )
        raise self.fault(f"Unknown operator {token.text!r}.", token)

    def field_of(self, operand: Operand, operator: str, token: _Token) -> Field:
        if not isinstance(operand, Field):
            raise self.fault(f"{operator} applies to an attribute, not to {token.text!r}.", token)
        return operand

    def parse_list(self) -> tuple[Literal, ...]:
        self.expect_punct("(")
        if self.is_word("SELECT", "WITH", "VALUES"):
            raise self.fault("Subqueries are not supported in an expression.")
        values = [self.parse_literal()]
        while self.is_punct(","):
            self.advance()
            values.append(self.parse_literal())
            if len(values) > _MAX_IN_VALUES:
                raise self.fault(f"An IN list holds at most {_MAX_IN_VALUES} values.")
        self.expect_punct(")")
        return tuple(values)

    def parse_literal(self) -> Literal:
        operand = self.parse_operand()
        if not isinstance(operand, Literal):
            raise self.fault(f"An IN list holds constants, not the attribute {operand.path!r}.")
        return operand

    def parse_operand(self) -> Operand:
        token = self.current
        if token.kind == "field":
            self.advance()
            return Field(token.text)
        if token.kind == "string":
            self.advance()
            return Literal(_ESCAPE.sub(r"\1", token.text[1:-1]), token.text)
        if token.kind == "number":
            self.advance()
            if "." in token.text:
                raise self.fault(
                    f"{token.text} is not an integer: no attribute here holds decimals.", token
                )
            if len(token.text) > 24:
                raise self.fault(f"{token.text[:24]}… is out of range.", token)
            return Literal(int(token.text), token.text)
        if token.kind == "date":
            self.advance()
            moment = parse_datetime(token.text[1:-1])
            if moment is None:
                raise self.fault(f"{token.text} is not a datetime (#2026-11-28 10:00:00Z#).", token)
            return Literal(moment, token.text)
        if token.kind == "word":
            word = token.text.upper()
            if word in ("TRUE", "FALSE"):
                self.advance()
                return Literal(word == "TRUE", token.text)
            nxt = self.tokens[self.index + 1]
            if nxt.kind == "punct" and nxt.text == "(":
                raise self.fault(f"Unknown function '{token.text}'.", token)
            if word == "NULL":
                raise self.fault("NULL is compared with IS NULL or IS NOT NULL.", token)
            if word in _KEYWORDS:
                raise self.fault(f"Expected an attribute or a value, found {word}.", token)
            raise self.fault(
                f"Unknown name '{token.text}': attributes start with '@' ('@{token.text}'), "
                "text goes in single quotes.",
                token,
            )
        raise self.fault(f"Expected an attribute or a value, found {self.describe(token)}.")


def parse_condition(expression: str) -> Condition:
    """Parse one ``<condition expr="…">``; raise :class:`InvalidRequest` naming what is wrong."""
    return _Parser(expression).parse()


def parse_field(expression: str) -> Field:
    """Parse a select or orderBy ``expr``: one attribute (``@id``, ``[enum/@name]``)."""
    parser = _Parser(expression)
    start = parser.current
    if start.kind == "end":
        raise parser.fault("The expression is empty.")
    operand = parser.parse_operand()
    if not isinstance(operand, Field):
        raise parser.fault(f"Expected an attribute ('@name'), found {start.text!r}.", start)
    if parser.current.kind != "end":
        raise parser.fault(
            f"Only an attribute can be selected or sorted on: unexpected "
            f"{parser.describe(parser.current)}."
        )
    return operand
