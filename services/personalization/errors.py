"""Errors raised while compiling or rendering a personalization template.

Both are :class:`services.errors.InvalidRequest`: a broken template, or a template that fails on
the data it is given, is content the caller supplied. They carry the template's name, the
template line (1-based, ``None`` when it cannot be known), and the output field
(``subject``, ``html``…) when the template is one field of a message.
"""

from __future__ import annotations

from typing import Literal

from services.errors import InvalidRequest

__all__ = ["LimitKind", "TemplateRuntimeError", "TemplateSyntaxError"]

#: Which sandbox limit a render hit.
LimitKind = Literal["time", "memory", "stack"]


def _where(template: str, field: str | None, line: int | None) -> str:
    where = f"template {template!r}"
    if field:
        where += f", field {field!r}"
    if line is not None:
        where += f", line {line}"
    return where


class TemplateSyntaxError(InvalidRequest):
    """The template cannot be compiled: bad tag structure or invalid JavaScript."""

    error = "template_syntax_error"

    def __init__(
        self,
        reason: str,
        *,
        template: str,
        line: int | None,
        field: str | None = None,
        source_line: str | None = None,
    ) -> None:
        super().__init__(
            f"Syntax error in {_where(template, field, line)}: {reason}",
            detail=source_line,
            field=field,
        )
        self.reason = reason
        self.template = template
        self.line = line
        self.source_line = source_line


class TemplateRuntimeError(InvalidRequest):
    """The template failed while rendering: an exception, or a sandbox limit was hit."""

    error = "template_runtime_error"

    def __init__(
        self,
        reason: str,
        *,
        template: str,
        line: int | None,
        field: str | None = None,
        source_line: str | None = None,
        limit: LimitKind | None = None,
    ) -> None:
        super().__init__(
            f"Error in {_where(template, field, line)}: {reason}",
            detail=source_line,
            field=field,
        )
        self.reason = reason
        self.template = template
        self.line = line
        self.source_line = source_line
        self.limit = limit
