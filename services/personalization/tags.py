"""Split a Campaign template into text, ``<% code %>`` and ``<%= expression %>`` parts.

As in Campaign (and JSP), a tag ends at the first ``%>`` after its ``<%``, even inside a
JavaScript string, and text outside tags is kept byte for byte.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from services.personalization.errors import TemplateSyntaxError

__all__ = ["Part", "PartKind", "split_template"]

_OPEN = "<%"
_CLOSE = "%>"


class PartKind(enum.Enum):
    """What a part of a template is."""

    TEXT = "text"
    CODE = "code"
    EXPRESSION = "expression"


@dataclass(frozen=True, slots=True)
class Part:
    """One piece of a template and the template line its content starts on (1-based)."""

    kind: PartKind
    text: str
    line: int


def split_template(source: str, *, name: str, field: str | None = None) -> list[Part]:
    """Return the parts of ``source`` in order; raise TemplateSyntaxError on a bad tag."""
    parts: list[Part] = []
    lines = source.split("\n")
    position = 0
    line = 1
    while True:
        start = source.find(_OPEN, position)
        if start < 0:
            if position < len(source):
                parts.append(Part(PartKind.TEXT, source[position:], line))
            return parts
        if start > position:
            text = source[position:start]
            parts.append(Part(PartKind.TEXT, text, line))
            line += text.count("\n")
        tag_line = line
        end = source.find(_CLOSE, start + len(_OPEN))
        if end < 0:
            raise TemplateSyntaxError(
                "'<%' is never closed by '%>'",
                template=name,
                line=tag_line,
                field=field,
                source_line=lines[tag_line - 1].strip(),
            )
        body = source[start + len(_OPEN) : end]
        parts.append(_tag_part(body, tag_line, name=name, field=field, lines=lines))
        line += body.count("\n")
        position = end + len(_CLOSE)


def _tag_part(body: str, line: int, *, name: str, field: str | None, lines: list[str]) -> Part:
    def fail(reason: str) -> TemplateSyntaxError:
        return TemplateSyntaxError(
            reason, template=name, line=line, field=field, source_line=lines[line - 1].strip()
        )

    if body.startswith("="):
        expression = body[1:]
        if not expression.strip().rstrip(";").strip():
            raise fail("empty '<%= %>' expression")
        return Part(PartKind.EXPRESSION, expression, line)
    if body.startswith("@"):
        raise fail(
            "'<%@ ... %>' directives (include, value) are not supported here; "
            "personalization blocks must be merged into the content before it is compiled"
        )
    return Part(PartKind.CODE, body, line)
