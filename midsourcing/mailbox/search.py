"""The mailbox's search syntax: ``to:``, ``subject:``, ``type:``, ``status:``, ``channel:``,
``is:proof`` (``-is:proof``), ``after:``, ``before:`` in the search box, as in Mailpit.

A value with spaces is quoted (``subject:"your order"``); what is not a known ``name:value``
stays free text, searched as before (recipient, subject, type, message id or event id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["SEARCH_SYNTAX", "Search", "parse_search"]

#: Search-box names and the filter field each one sets.
_FIELDS = {
    "to": "recipient",
    "subject": "subject",
    "type": "event_type",
    "status": "status",
    "channel": "channel",
    "after": "since",
    "before": "until",
}
_TOKEN = re.compile(r'(-?)([A-Za-z]+):("([^"]*)"?|\S*)|"([^"]*)"?|(\S+)')

#: Shown under the search box.
SEARCH_SYNTAX = (
    'to:ann subject:"your order" type:PASSWORD_RESET status:failed channel:sms is:proof '
    "after:2026-12-01 before:2026-12-02T09:30 (UTC)"
)


@dataclass(frozen=True)
class Search:
    """A search box read: the filters its ``name:value`` words set, and its free text."""

    fields: dict[str, str] = field(default_factory=dict)
    text: str = ""


def parse_search(query: str) -> Search:
    """Return the filters and free text of a search box (unknown ``name:`` words are text)."""
    fields: dict[str, str] = {}
    words: list[str] = []
    for match in _TOKEN.finditer(query):
        negated, name, raw, quoted, phrase, word = match.groups()
        key = (name or "").lower()
        value = quoted if quoted is not None else (raw or "")
        if key == "is" and value.lower() == "proof":
            fields["proof"] = "no" if negated else "yes"
        elif key in _FIELDS and value and not negated:
            fields[_FIELDS[key]] = value
        elif phrase is not None:
            words.append(phrase)
        else:
            words.append(word or match.group(0))
    return Search(fields=fields, text=" ".join(w for w in words if w))
