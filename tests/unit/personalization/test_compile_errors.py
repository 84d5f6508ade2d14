"""Syntax errors are reported at compile time with the template line and field."""

from __future__ import annotations

import pytest

from services.errors import InvalidRequest
from services.personalization import TemplateSyntaxError, compile_fields, compile_template
from tests.unit.personalization.builders import unique_name

SEVEN_LINES = """\
<html>
<body>
<p>Hello <%= rtEvent.ctx.firstName %></p>
<% var total = 0;
   for each (var item in rtEvent.ctx.item) {
     total += item.@qty; } %>
<p>Total: <%= total +* 2 %></p>
</body>
</html>"""


def compile_error(source: str) -> TemplateSyntaxError:
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_template(source, name="welcome")
    return caught.value


def test_error_on_the_seventh_line_is_reported_there() -> None:
    error = compile_error(SEVEN_LINES)

    assert error.line == 7
    assert error.source_line == "<p>Total: <%= total +* 2 %></p>"
    assert error.message.startswith("Syntax error in template 'welcome', line 7: ")
    assert isinstance(error, InvalidRequest)
    assert error.to_json()["error"] == "template_syntax_error"


@pytest.mark.parametrize("line", [1, 3, 7, 12])
def test_javascript_errors_map_to_their_template_line(line: int) -> None:
    lines = [f"text {number} <%= rtEvent.ctx.a %>" for number in range(1, 13)]
    lines[line - 1] = "<% var x = ; %>"

    assert compile_error("\n".join(lines)).line == line


def test_error_inside_a_multi_line_code_block_names_the_exact_line() -> None:
    source = "a\n<%\n  var a = 1;\n  var b = 2;\n  var c = a b;\n%>\nz"

    assert compile_error(source).line == 5


def test_unclosed_tag_is_reported_at_its_opening_line() -> None:
    source = "one\ntwo <%= rtEvent.ctx.a %>\nthree\nfour <% if (x) {\nfive"

    error = compile_error(source)

    assert error.line == 4
    assert "'<%' is never closed" in error.reason


def test_unclosed_brace_names_where_it_was_opened() -> None:
    source = "a\n<% if (rtEvent.ctx.vip == '1') { %>\nVIP\nb"

    error = compile_error(source)

    assert error.line == 2
    assert error.reason == "'{' opened at line 2 is never closed"


def test_extra_closing_brace_is_reported_where_it_is() -> None:
    source = "<% if (true) { %>x<% } %>\nmore\n<% } %>"

    error = compile_error(source)

    assert error.line == 3
    assert "unexpected '}'" in error.reason


def test_mismatched_brackets_name_both_ends() -> None:
    error = compile_error("<% var a = [1, 2;\n } %>")

    assert error.line == 2
    assert "'}' found where ']' was expected" in error.reason
    assert "opened at line 1" in error.reason


def test_unbalanced_expression_is_reported_in_the_expression() -> None:
    error = compile_error("ok\n<%= (rtEvent.ctx.a %>")

    assert error.line == 2
    assert "in this '<%= %>' expression" in error.reason


def test_unterminated_string_is_reported_at_its_line() -> None:
    error = compile_error("a\nb\n<% var s = 'open; %>")

    assert (error.line, error.reason) == (3, "unterminated string literal")


def test_empty_expression_is_an_error() -> None:
    error = compile_error("x\n<%=   %>")

    assert (error.line, error.reason) == (2, "empty '<%= %>' expression")


def test_directives_are_rejected_with_an_explanation() -> None:
    error = compile_error('<%@ include view="MirrorPage" %>')

    assert error.line == 1
    assert "directives" in error.reason


def test_bare_at_sign_outside_an_accessor_is_rejected() -> None:
    error = compile_error("<%= rtEvent.ctx.item.(@price > 10) %>")

    assert "'@' is only supported in element.@attribute accessors" in error.reason


def test_for_each_without_in_is_rejected() -> None:
    error = compile_error("<% for each (var x of y) { } %>")

    assert "needs 'in'" in error.reason


def test_compile_fields_names_the_field_in_error() -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_fields(
            {"subject": "Order <%= rtEvent.ctx.order.@id %>", "html": "ok\n<% if ( %>", "text": ""},
            name="order v2",
        )

    error = caught.value
    assert error.field == "html"
    assert error.line == 2
    assert "field 'html'" in error.message
    assert error.to_json()["field"] == "html"


def test_a_template_cannot_close_the_function_it_is_compiled_into() -> None:
    # Without the bracket check this would end the generated function early and run code
    # at the top level of the sandbox.
    error = compile_error("<% } globalThis.escaped = 1; function again() { %>")

    assert "unexpected '}'" in error.reason


def test_valid_templates_compile_and_keep_the_name() -> None:
    name = unique_name("valid")

    template = compile_template(SEVEN_LINES.replace("+* 2", "* 2"), name=name)

    assert template.name == name
    assert template.field is None
    assert template.template_line(1) == 1


def test_windows_line_endings_count_lines_the_same() -> None:
    source = "a\r\nb\r\n<%\r\n  var x = 1;\r\n  var y = ;\r\n%>\r\nc"

    error = compile_error(source)

    assert (error.line, error.source_line) == (5, "var y = ;")
