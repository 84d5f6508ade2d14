"""Errors the ``mcsim`` command reports to the person who ran it."""

from __future__ import annotations

from services.errors import McsimError

__all__ = ["PlanError", "StackError"]


class StackError(McsimError):
    """The stack cannot be started or inspected."""

    error = "stack_error"


class PlanError(StackError):
    """The options do not describe a stack that can run (ports clash, bad URL, too many)."""

    status_code = 400
    error = "invalid_options"
