"""What the list pages share: reading their filter fields and linking to their other pages.

A list page (the mailbox's messages and quarantine) is filtered by a GET form whose fields come
back as query parameters; the pager's links keep the filters that are set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from services.errors import InvalidRequest

__all__ = ["choice", "pager_base"]


def choice(value: str, allowed: Sequence[str], name: str) -> str | None:
    """Return the option chosen in filter ``name`` (None when empty); any other is refused."""
    if not value:
        return None
    if value not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(allowed)}", field=name)
    return value


def pager_base(path: str, filters: Mapping[str, str]) -> str:
    """Return ``path`` with the filters that are set, ready for ``offset=…&limit=…`` to follow."""
    query = {name: value for name, value in filters.items() if value}
    return f"{path}?" + urlencode(query) + ("&" if query else "")
