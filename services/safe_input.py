"""Input types every edge uses so that what it accepts can always be stored (security review F7).

lxml refuses text with characters XML 1.0 cannot carry (control characters, NUL, lone
surrogates, U+FFFE/U+FFFF); SQLite stores integers in 64 bits and refuses a LIKE pattern above
50,000 bytes. An input that would hit one of those limits is refused where it arrives, as a 400
naming its field, rather than failing deep down as a 500. Use the ``Annotated`` types on query,
path and body parameters (FastAPI answers their violations with ``InvalidRequest``), and
:func:`require_xml_text` where a body is read by hand.
"""

from __future__ import annotations

import re
from typing import Annotated

from annotated_types import Ge, Le, MaxLen
from pydantic import AfterValidator

from services.errors import InvalidRequest

__all__ = [
    "MAX_INT64",
    "MIN_INT64",
    "SEARCH_MAX_LENGTH",
    "Int64",
    "RowId",
    "SearchText",
    "XmlText",
    "ascii_digits",
    "require_xml_text",
    "xml_compatible",
]


def ascii_digits(value: str) -> bool:
    """Return whether ``value`` is one or more of 0-9: what ``int()`` surely takes.

    ``str.isdigit()`` is also true of '²' and other digits ``int()`` refuses (a ValueError, so a
    500, where the caller expected a clear "not a number").
    """
    return value.isascii() and value.isdigit()


MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)
#: Longest search term: SQLite's LIKE pattern limit is 50,000 bytes, and a character takes up
#: to 4 bytes in UTF-8 (or 2 once a wildcard is escaped). Far more than a search box needs.
SEARCH_MAX_LENGTH = 1000

# What XML 1.0 allows (§2.2 Char), minus U+FFFE and U+FFFF, which it excludes too.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_compatible(value: str) -> str:
    """Return ``value`` when XML can carry every character of it, else raise ValueError."""
    found = _NOT_XML.search(value)
    if found is not None:
        raise ValueError(
            f"the character U+{ord(found.group()):04X} at position {found.start()} "
            "cannot be carried in XML"
        )
    return value


def require_xml_text(value: str, *, field: str) -> str:
    """Return ``value`` when XML can carry it, else raise InvalidRequest naming ``field``."""
    try:
        return xml_compatible(value)
    except ValueError as exc:
        raise InvalidRequest(
            f"{field} holds a character XML cannot carry", detail=str(exc), field=field
        ) from None


#: Text that goes into an XML document.
XmlText = Annotated[str, AfterValidator(xml_compatible)]
#: A search term matched with LIKE (XML-compatible too: no NUL, which PostgreSQL refuses).
SearchText = Annotated[str, MaxLen(SEARCH_MAX_LENGTH), AfterValidator(xml_compatible)]
#: An integer a database column can hold.
Int64 = Annotated[int, Ge(MIN_INT64), Le(MAX_INT64)]
#: A row id (an integer primary key): positive, 64 bits.
RowId = Annotated[int, Ge(1), Le(MAX_INT64)]
