"""Rewrite the E4X syntax Campaign templates use into plain JavaScript, and check brackets.

Campaign runs templates in SpiderMonkey with E4X; QuickJS has neither. Two constructs are
rewritten, only in code (never inside strings, template literals, comments or regex literals):

- ``element.@name`` becomes ``element["@name"]`` (read by the runtime's XML views);
- ``for each (var x in expr)`` becomes ``for (var x of __mc.each(expr))``, which iterates over
  the values (the elements of an XML list, the items of an array, the values of an object).

And ``throw x`` becomes ``throw __mc.mark(), x``: the runtime then knows the template threw on
purpose, which tells ``throw null`` apart from QuickJS running out of memory (both reach the
host as a bare ``null``).

While scanning, every ``(``, ``[``, ``{`` and ``${`` must be closed in order. That gives clear
errors with the template line ("'{' opened at line 5 is never closed") and guarantees that no
template can close the function it is compiled into.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

__all__ = ["BracketStack", "ScanError", "rewrite_code"]

_IDENT = re.compile(r"[A-Za-z_$\u0080-\U0010ffff][\w$\u0080-\U0010ffff]*")
_NUMBER = re.compile(
    r"(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?)n?"
)
_FOR_EACH_HEAD = re.compile(r"\s*\(")
# After these words an expression starts, so a '/' opens a regular expression.
_EXPRESSION_KEYWORDS = frozenset(
    {"return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case"}
    | {"do", "else", "yield", "await"}
)
# After the ')' closing "if (...)" and the like, a statement starts: a '/' opens a regex.
_STATEMENT_KEYWORDS = frozenset({"if", "while", "for", "with"})
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")": "(", "]": "[", "}": "{"}
_TEMPLATE_HOLE = "${"


class ScanError(Exception):
    """A lexical or bracket error, at a template line."""

    def __init__(self, reason: str, line: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass
class _Open:
    kind: str  # "(", "[", "{" or "${"
    line: int
    for_each: bool = False
    saw_in: bool = False
    after_statement_keyword: bool = False


@dataclass
class BracketStack:
    """Brackets still open; code blocks of one template share one stack."""

    items: list[_Open] = field(default_factory=list)

    def check_closed(self, *, what: str = "") -> None:
        """Raise ScanError when a bracket is still open."""
        if self.items:
            top = self.items[-1]
            suffix = f" {what}" if what else ""
            reason = f"'{top.kind}' opened at line {top.line} is never closed{suffix}"
            raise ScanError(reason, top.line)


def rewrite_code(code: str, *, first_line: int, stack: BracketStack) -> str:
    """Return ``code`` with E4X accessors rewritten; raise ScanError with a template line."""
    return _Scanner(code, first_line, stack).run()


class _Scanner:
    def __init__(self, code: str, first_line: int, stack: BracketStack) -> None:
        self.code = code
        self.first_line = first_line
        self.stack = stack.items
        self.newlines = [i for i, char in enumerate(code) if char == "\n"]
        self.out: list[str] = []
        self.copied = 0  # everything before this index is already in self.out
        # What came before: "start", "operand" (a '/' divides) or "operator" (a '/' starts a regex).
        self.previous = "start"
        self.previous_word = ""
        self.pending_for_each = False

    def line_at(self, index: int) -> int:
        return self.first_line + bisect.bisect_left(self.newlines, index)

    def replace(self, start: int, end: int, text: str) -> None:
        self.out.append(self.code[self.copied : start])
        self.out.append(text)
        self.copied = end

    def run(self) -> str:
        code = self.code
        length = len(code)
        index = 0
        while index < length:
            char = code[index]
            if char.isspace():
                index += 1
            elif char == "/" and code.startswith("//", index):
                newline = code.find("\n", index)
                index = length if newline < 0 else newline
            elif char == "/" and code.startswith("/*", index):
                end = code.find("*/", index + 2)
                if end < 0:
                    raise ScanError("unterminated comment", self.line_at(index))
                index = end + 2
            elif char == "/" and self.previous != "operand":
                index = self.skip_regex(index)
                self.set_previous("operand")
            elif char in "'\"":
                index = self.skip_string(index)
                self.set_previous("operand")
            elif char == "`":
                index = self.skip_template(index + 1)
            elif char == "." and code.startswith(".@", index):
                index = self.attribute(index)
            elif char == "@":
                raise ScanError(
                    "'@' is only supported in element.@attribute accessors", self.line_at(index)
                )
            elif char.isdigit() or (char == "." and code[index + 1 : index + 2].isdigit()):
                match = _NUMBER.match(code, index)
                index = match.end() if match and match.end() > index else index + 1
                self.set_previous("operand")
            elif char in _OPENERS:
                self.open(char, index)
                index += 1
            elif char in _CLOSERS:
                index = self.close(char, index)
            elif match := _IDENT.match(code, index):
                index = self.word(match.group(), index, match.end())
            else:
                index = self.punctuator(index)
        if self.pending_for_each:
            raise ScanError("'for each' must be followed by '('", self.line_at(length))
        self.out.append(code[self.copied :])
        return "".join(self.out)

    def set_previous(self, kind: str, word: str = "") -> None:
        self.previous = kind
        self.previous_word = word

    def word(self, word: str, start: int, end: int) -> int:
        after_dot = self.previous_word == "."
        if word == "each" and self.previous_word == "for" and _FOR_EACH_HEAD.match(self.code, end):
            self.replace(start, end, "")
            self.pending_for_each = True
            self.set_previous("operator", "for")
            return end
        top = self.stack[-1] if self.stack else None
        if word == "in" and top is not None and top.for_each and not top.saw_in:
            self.replace(start, end, "of __mc.each(")
            top.saw_in = True
            self.set_previous("operator", "in")
            return end
        if word == "throw" and not after_dot:
            self.replace(start, end, "throw __mc.mark(),")
        if not after_dot and word in _EXPRESSION_KEYWORDS:
            self.set_previous("operator", word)
        else:
            self.set_previous("operand", "" if after_dot else word)
        return end

    def attribute(self, index: int) -> int:
        match = _IDENT.match(self.code, index + 2)
        if match is None:
            raise ScanError("expected an attribute name after '.@'", self.line_at(index))
        self.replace(index, match.end(), f'["@{match.group()}"]')
        self.set_previous("operand")
        return match.end()

    def open(self, char: str, index: int) -> None:
        opened = _Open(
            char,
            self.line_at(index),
            after_statement_keyword=char == "(" and self.previous_word in _STATEMENT_KEYWORDS,
        )
        if char == "(" and self.pending_for_each:
            opened.for_each = True
            self.pending_for_each = False
        elif self.pending_for_each:
            raise ScanError("'for each' must be followed by '('", self.line_at(index))
        self.stack.append(opened)
        self.set_previous("operator")

    def close(self, char: str, index: int) -> int:
        if not self.stack:
            raise ScanError(f"unexpected '{char}': nothing is open here", self.line_at(index))
        top = self.stack[-1]
        if top.kind == _TEMPLATE_HOLE and char == "}":
            self.stack.pop()
            return self.skip_template(index + 1)
        if top.kind != _CLOSERS[char]:
            expected = "}" if top.kind == _TEMPLATE_HOLE else _OPENERS[top.kind]
            raise ScanError(
                f"'{char}' found where '{expected}' was expected "
                f"(to close '{top.kind}' opened at line {top.line})",
                self.line_at(index),
            )
        self.stack.pop()
        if top.for_each:
            if not top.saw_in:
                raise ScanError("'for each (...)' needs 'in'", self.line_at(index))
            self.replace(index, index + 1, "))")
        # After ')' or ']' a '/' divides, except after "if (...)" and the like, or a block's '}',
        # where a new statement (maybe a regex) starts.
        starts_statement = char == "}" or top.after_statement_keyword
        self.set_previous("operator" if starts_statement else "operand", char)
        return index + 1

    def punctuator(self, index: int) -> int:
        code = self.code
        if code.startswith(("++", "--"), index):
            # Postfix after an operand (a '/' then divides), prefix otherwise.
            self.set_previous(self.previous if self.previous == "operand" else "operator")
            return index + 2
        if code.startswith("...", index):
            self.set_previous("operator")
            return index + 3
        if code[index] == "." or code.startswith("?.", index):
            step = 1 if code[index] == "." else 2
            self.set_previous("operator", ".")
            return index + step
        self.set_previous("operator")
        return index + 1

    def skip_string(self, index: int) -> int:
        code = self.code
        quote = code[index]
        position = index + 1
        while position < len(code):
            char = code[position]
            if char == "\\":
                position += 2
                continue
            if char == quote:
                return position + 1
            if char == "\n":
                break
            position += 1
        raise ScanError("unterminated string literal", self.line_at(index))

    def skip_regex(self, index: int) -> int:
        code = self.code
        position = index + 1
        in_class = False
        while position < len(code):
            char = code[position]
            if char == "\\":
                position += 2
                continue
            if char == "\n":
                break
            if char == "[":
                in_class = True
            elif char == "]":
                in_class = False
            elif char == "/" and not in_class:
                flags = _IDENT.match(code, position + 1)
                return flags.end() if flags else position + 1
            position += 1
        raise ScanError("unterminated regular expression literal", self.line_at(index))

    def skip_template(self, index: int) -> int:
        """Skip template-literal text from ``index`` up to its end or its next ``${``."""
        code = self.code
        position = index
        while position < len(code):
            char = code[position]
            if char == "\\":
                position += 2
                continue
            if char == "`":
                self.set_previous("operand")
                return position + 1
            if code.startswith(_TEMPLATE_HOLE, position):
                self.stack.append(_Open(_TEMPLATE_HOLE, self.line_at(position)))
                self.set_previous("operator")
                return position + 2
            position += 1
        raise ScanError("unterminated template literal", self.line_at(index))
