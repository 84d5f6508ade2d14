"""Errors of a form in plain words, for the field that caused them.

Pydantic's messages are written for programmers ("String should match pattern '^[A-Za-z]…'");
a page shows one sentence next to the field instead. :func:`plain_words` turns one validation
error into that sentence; a pattern is explained by the caller's ``hints`` (the regular
expression means nothing to the person typing), everything else by the kind of error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from services.errors import InvalidRequest

__all__ = ["field_errors", "invalid_form", "plain_words"]


def _limit(ctx: Mapping[str, Any], name: str) -> str:
    return str(ctx.get(name, "?"))


def plain_words(error: ErrorDetails, hints: Mapping[str, str] | None = None) -> str:
    """Return one validation error as a sentence for the person who filled in the field."""
    kind = error.get("type", "")
    ctx: Mapping[str, Any] = error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return (hints or {}).get(str(ctx.get("pattern")), "Use only the characters allowed here.")
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "Fill this in."
    simple = {
        "string_too_short": f"Use at least {_limit(ctx, 'min_length')} characters.",
        "string_too_long": f"Use at most {_limit(ctx, 'max_length')} characters.",
        "greater_than_equal": f"Enter a number of at least {_limit(ctx, 'ge')}.",
        "greater_than": f"Enter a number above {_limit(ctx, 'gt')}.",
        "less_than_equal": f"Enter a number of at most {_limit(ctx, 'le')}.",
        "less_than": f"Enter a number below {_limit(ctx, 'lt')}.",
        "int_parsing": "Enter a whole number.",
        "int_from_float": "Enter a whole number.",
        "float_parsing": "Enter a number, such as 0.25.",
        "bool_parsing": "Choose yes or no.",
        "literal_error": f"Choose one of {_limit(ctx, 'expected')}.",
        "enum": f"Choose one of {_limit(ctx, 'expected')}.",
        "url_parsing": "Enter a web address, such as https://example.com.",
        "datetime_parsing": "Enter a date and time, such as 2026-01-31T09:30.",
        "datetime_from_date_parsing": "Enter a date and time, such as 2026-01-31T09:30.",
    }
    if kind in simple:
        return simple[kind]
    message = str(error.get("msg", "This value is not accepted."))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def field_errors(exc: ValidationError, hints: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the first plain-words error of each field (``""`` for the form as a whole)."""
    found: dict[str, str] = {}
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        found.setdefault(where, plain_words(error, hints))
    return found


def invalid_form(exc: ValidationError, hints: Mapping[str, str] | None = None) -> InvalidRequest:
    """Return the InvalidRequest of a refused form: the first field's sentence, the rest after."""
    errors = field_errors(exc, hints)
    first, message = next(iter(errors.items()), ("", "This form is not accepted."))
    others = [f"{name or 'form'}: {text}" for name, text in list(errors.items())[1:]]
    return InvalidRequest(message, detail="\n".join(others) or None, field=first or None)
