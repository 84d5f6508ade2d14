"""Roles of control-instance operators, each allowed what the roles below it may do."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Principal", "Role"]


class Role(enum.StrEnum):
    """viewer reads; editor also authors, tests and publishes; admin also manages the platform."""

    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Return the role's place in the order viewer < editor < admin."""
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Return whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


@dataclass(frozen=True)
class Principal:
    """The authenticated operator of a request, and how it authenticated."""

    operator_id: int
    login: str
    role: Role
    kind: str  # bearer or session
    token_digest: str
