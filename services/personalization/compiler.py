"""Compile a Campaign template into one JavaScript function, checked for syntax once.

The generated source keeps a map from its lines back to template lines, so that syntax errors
(found here) and runtime errors (found by the engine) name the line the author wrote.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

import quickjs

from services.personalization.e4x import BracketStack, ScanError, rewrite_code
from services.personalization.errors import TemplateSyntaxError
from services.personalization.tags import Part, PartKind, split_template

__all__ = [
    "CompiledFields",
    "CompiledTemplate",
    "compile_fields",
    "compile_template",
    "js_location",
]

# The factory the engine calls once per sandbox with the runtime; it returns the render
# function, which takes the event's JSON payload and returns the text. The prologue stays on the
# first line so template lines map one to one from the second line on. Both functions are frozen
# (`__mc.seal`) and held in constants: template code can neither keep state on them nor rebind
# `__mc` or `__template` for the next render of the same template.
_PROLOGUE = (
    "(function (__mc_runtime) { const __mc = __mc_runtime; "
    "const __template = __mc.seal(function __template(rtEvent, batchEvent) { "
    'var __mc_o = "";'
)
_EPILOGUE = (
    "return __mc_o; }); "
    "return __mc.seal(function __mc_render(__mc_payload) { "
    "var rtEvent = __mc.event(__mc_payload), batchEvent = rtEvent; "
    "try { return __mc.finish(__template(rtEvent, batchEvent)); } "
    "catch (__mc_error) { throw __mc.rethrow(__mc_error); } finally { __mc.purge(); } }); })"
)
_LOCATION = re.compile(r"<input>:(\d+):(\d+)")
_CHECK_MEMORY_LIMIT = 64 * 1024 * 1024
_CHECK_TIME_LIMIT = 1.0


@dataclass(frozen=True, eq=False)
class CompiledTemplate:
    """A template turned into JavaScript; render it with a TemplateEngine."""

    name: str
    field: str | None
    source: str = dataclasses.field(repr=False)
    javascript: str = dataclasses.field(repr=False)
    #: Template line of every JavaScript line (index 0 is JavaScript line 1).
    line_map: tuple[int, ...] = dataclasses.field(repr=False)
    #: Hash of the JavaScript: the cache key of the compiled function in every sandbox.
    key: str = dataclasses.field(repr=False)

    def template_line(self, javascript_line: int) -> int | None:
        """Return the template line of a JavaScript line, or None when out of range."""
        if 1 <= javascript_line <= len(self.line_map):
            return self.line_map[javascript_line - 1]
        return None

    def source_line(self, line: int | None) -> str | None:
        """Return the text of a template line (stripped), for error details."""
        lines = self.source.split("\n")
        if line is None or not 1 <= line <= len(lines):
            return None
        return lines[line - 1].strip()


@dataclass(frozen=True, eq=False)
class CompiledFields:
    """The named fields of one template version (subject, html, text…), compiled together."""

    name: str
    fields: Mapping[str, CompiledTemplate]


def compile_template(source: str, *, name: str, field: str | None = None) -> CompiledTemplate:
    """Compile ``source`` into one JavaScript function; raise TemplateSyntaxError with its line."""
    parts = split_template(source, name=name, field=field)
    lines: list[str] = [_PROLOGUE]
    line_map: list[int] = [1]
    stack = BracketStack()
    last_line = 1
    try:
        for part in parts:
            last_line = _emit(part, lines, line_map, stack)
        stack.check_closed()
    except ScanError as exc:
        raise _syntax_error(source, exc.reason, exc.line, name=name, field=field) from None
    lines.append(_EPILOGUE)
    line_map.append(last_line)
    javascript = "\n".join(lines)
    compiled = CompiledTemplate(
        name=name,
        field=field,
        source=source,
        javascript=javascript,
        line_map=tuple(line_map),
        key=hashlib.sha256(javascript.encode()).hexdigest(),
    )
    _check_syntax(compiled)
    return compiled


def compile_fields(fields: Mapping[str, str], *, name: str) -> CompiledFields:
    """Compile every field of a template version; a syntax error names its field."""
    compiled = {key: compile_template(text, name=name, field=key) for key, text in fields.items()}
    return CompiledFields(name=name, fields=compiled)


def js_location(text: str) -> tuple[int, int] | None:
    """Return the first ``(line, column)`` of generated code mentioned in a QuickJS error."""
    match = _LOCATION.search(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _emit(part: Part, lines: list[str], line_map: list[int], stack: BracketStack) -> int:
    """Append the JavaScript of one part; return the template line the part ends on."""
    if part.kind is PartKind.TEXT:
        lines.append(f"__mc_o += {json.dumps(part.text, ensure_ascii=False)};")
        line_map.append(part.line)
        return part.line + part.text.count("\n")
    if part.kind is PartKind.CODE:
        code = rewrite_code(part.text, first_line=part.line, stack=stack)
        _append_lines(code, part.line, lines, line_map)
        return part.line + part.text.count("\n")
    expression_stack = BracketStack()
    expression = part.text.rstrip()
    expression = expression[:-1] if expression.endswith(";") else expression
    code = rewrite_code(expression, first_line=part.line, stack=expression_stack)
    expression_stack.check_closed(what="in this '<%= %>' expression")
    end_line = part.line + expression.count("\n")
    # The closing parenthesis goes on its own line: the expression may end with a // comment.
    _append_lines(f"__mc_o += __mc.str(({code}", part.line, lines, line_map)
    lines.append("));")
    line_map.append(end_line)
    return part.line + part.text.count("\n")


def _append_lines(code: str, first_line: int, lines: list[str], line_map: list[int]) -> None:
    for offset, text in enumerate(code.split("\n")):
        lines.append(text)
        line_map.append(first_line + offset)


def _check_syntax(compiled: CompiledTemplate) -> None:
    # A fresh context (about 0.1 ms) keeps compiling stateless and thread-safe. Evaluating the
    # factory only creates a function: no template code runs, and the bracket check above
    # guarantees the template cannot close the function it is compiled into.
    context = quickjs.Context()
    context.set_memory_limit(_CHECK_MEMORY_LIMIT)
    context.set_time_limit(_CHECK_TIME_LIMIT)
    try:
        context.eval(compiled.javascript)
    except quickjs.JSException as exc:
        message = str(exc)
        location = js_location(message)
        line = compiled.template_line(location[0]) if location else None
        reason = message.split("\n", 1)[0].removeprefix("SyntaxError: ")
        raise _syntax_error(
            compiled.source, reason, line, name=compiled.name, field=compiled.field
        ) from None


def _syntax_error(
    source: str, reason: str, line: int | None, *, name: str, field: str | None
) -> TemplateSyntaxError:
    lines = source.split("\n")
    text = lines[line - 1].strip() if line is not None and 1 <= line <= len(lines) else None
    return TemplateSyntaxError(reason, template=name, line=line, field=field, source_line=text)
