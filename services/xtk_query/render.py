"""Render query results as Campaign does, inside ``ExecuteQuery``'s ``pdomOutput``.

Data elements carry no prefix and no ``xmlns`` (the JS SDK turns both into JSON properties),
every value is a string attribute (``None`` is ``""``, datetimes are XTK datetimes, booleans
``0``/``1``), a ``select`` answers ``<rtEvent-collection>`` with one ``<rtEvent>`` per row,
and ``pdomOutput`` is never empty (the SDK fails on an empty one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from services.soap.namespaces import ENCODING_LITERAL_XML
from services.soap.response import Output, escape_attr
from services.xtk import format_xtk

__all__ = ["count_element", "format_value", "pdom_output", "row_element", "rows_collection"]


def format_value(value: Any) -> str:
    """Return a database value as Campaign writes it in an attribute."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return format_xtk(value)
    return str(value)


class _Node:
    """An element being rendered: attributes in order, then child elements (``link/@name``)."""

    def __init__(self) -> None:
        self.attributes: dict[str, str] = {}
        self.children: dict[str, _Node] = {}

    def put(self, path: str, value: str) -> None:
        head, sep, rest = path.partition("/")
        if not sep:
            self.attributes[head.removeprefix("@")] = value
            return
        self.children.setdefault(head, _Node()).put(rest, value)

    def markup(self, name: str) -> str:
        attributes = "".join(f' {key}="{escape_attr(v)}"' for key, v in self.attributes.items())
        if not self.children:
            return f"<{name}{attributes}/>"
        inner = "".join(child.markup(key) for key, child in self.children.items())
        return f"<{name}{attributes}>{inner}</{name}>"


def row_element(element: str, names: Sequence[str], row: Iterable[Any] | None) -> str:
    """Return one row as ``<element name="value" …/>``; no row gives the empty ``<element/>``."""
    node = _Node()
    if row is not None:
        for name, value in zip(names, row, strict=True):
            node.put(name, format_value(value))
    return node.markup(element)


def rows_collection(element: str, names: Sequence[str], rows: Iterable[Iterable[Any]]) -> str:
    """Return ``<element-collection>`` holding one ``<element>`` per row (self-closed if none)."""
    inner = "".join(row_element(element, names, row) for row in rows)
    wrapper = f"{element}-collection"
    return f"<{wrapper}>{inner}</{wrapper}>" if inner else f"<{wrapper}/>"


def count_element(element: str, count: int) -> str:
    """Return a ``count`` answer: ``<element count="N"/>``."""
    return f'<{element} count="{int(count)}"/>'


def pdom_output(markup: str, *, name: str = "pdomOutput") -> Output:
    """Wrap rendered data as the ``pdomOutput`` parameter (the shape of ``Output.xml``)."""
    return Output(
        f"<{name} xsi:type='ns:Element' SOAP-ENV:encodingStyle='{ENCODING_LITERAL_XML}'>"
        f"{markup}</{name}>"
    )
