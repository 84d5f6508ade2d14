"""E4X accessors are rewritten in code only, never in strings, comments or regex literals."""

from __future__ import annotations

import pytest

from services.personalization.e4x import BracketStack, ScanError, rewrite_code
from tests.unit.personalization.conftest import Render


def rewrite(code: str) -> str:
    stack = BracketStack()
    out = rewrite_code(code, first_line=1, stack=stack)
    stack.check_closed()
    return out


def test_attribute_accessors_become_bracket_lookups() -> None:
    assert rewrite("a.@id + b.c.@x_1 + d[0].@$n") == 'a["@id"] + b.c["@x_1"] + d[0]["@$n"]'


def test_for_each_becomes_for_of_over_the_values() -> None:
    out = rewrite("for each (var item in rtEvent.ctx.item) { total += item.@qty }")

    assert out == ('for  (var item of __mc.each( rtEvent.ctx.item)) { total += item["@qty"] }')


def test_nested_for_each_and_inner_in_operator() -> None:
    out = rewrite("for each (var a in x) { for each (b in f('k' in o)) {} }")

    assert out == "for  (var a of __mc.each( x)) { for  (b of __mc.each( f('k' in o))) {} }"


def test_plain_for_in_is_left_alone() -> None:
    assert rewrite("for (var k in obj) {} var each = 1;") == "for (var k in obj) {} var each = 1;"


@pytest.mark.parametrize(
    "code",
    [
        "var s = 'a.@b for each (x in y)';",
        'var s = "a.@b \\" for each (x in y)";',
        "var s = `literal .@x for each (a in b)`;",
        "// comment a.@b for each (x in y)\nvar z = 1;",
        "/* block a.@b\n for each (x in y) */ var z = 1;",
        "var r = /a.@b/g.test(s);",
        "var r = s.replace(/[/.@]+/, '');",
        "if (x) /.@x/.test(s);",
        "return /for each (x in y)/.test(s);",
    ],
)
def test_strings_comments_and_regex_literals_are_not_rewritten(code: str) -> None:
    assert rewrite(code) == code


def test_template_literal_holes_are_code() -> None:
    out = rewrite("var s = `id ${order.@id} .@no ${`n ${a.@b}`}`;")

    assert out == 'var s = `id ${order["@id"]} .@no ${`n ${a["@b"]}`}`;'


def test_division_is_not_taken_for_a_regex() -> None:
    code = "var r = a / b / 2; var q = (x + 1) / 2 / y; i++ / 2;"

    assert rewrite(code) == code


def test_throw_is_marked_for_the_runtime() -> None:
    assert rewrite("if (bad) throw 'x';") == "if (bad) throw __mc.mark(), 'x';"


def test_scan_errors_carry_the_line() -> None:
    with pytest.raises(ScanError) as caught:
        rewrite_code("a;\nb;\nvar s = `open", first_line=10, stack=BracketStack())

    assert caught.value.line == 12
    assert caught.value.reason == "unterminated template literal"


def test_rewritten_templates_render_the_literals_verbatim(render: Render) -> None:
    ctx = '<ctx><order id="7"/></ctx>'
    source = (
        "<%= 'a.@b' %>|<%= \"for each (x in y)\" %>|<%= `t.@u ${rtEvent.ctx.order.@id}` %>|"
        "<%= /a.@b/.test('aX@b') %>|<%= 'x)y'.replace(/\\)/g, '') %>|<%= 10 / 2 / 5 %>"
        "<% /* .@c for each */ // .@d\n %>"
    )

    assert render(source, ctx) == "a.@b|for each (x in y)|t.@u 7|true|xy|1"
