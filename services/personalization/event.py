"""The data a template renders: the event's attributes and its ``<ctx>`` XML.

The ctx travels into the sandbox as one JSON text (built once per event, however many fields
are rendered) of nodes ``[name, text, {"@attribute": value}, [children]]`` (the last two left
out when empty, which keeps the text short: parsing it is a good part of a small render), which
the runtime wraps in E4X-like views. The event's own node adds its attributes unprefixed, read
as Campaign fields (``rtEvent.email``). As E4X does by default, comments, processing
instructions and whitespace-only text are dropped, and names lose their namespace prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from lxml import etree

from services.errors import HostileXml, MalformedXml

__all__ = ["EventData"]

_Node = list[Any]
# Reused (a stateless C encoder underneath); no circular check: the document is a fresh tree.
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":"))


@dataclass(frozen=True, eq=False)
class EventData:
    """An event as templates see it: ``rtEvent.<attribute>`` and ``rtEvent.ctx``."""

    #: The event's attributes (``type``, ``email``, ``externalId``…), read as ``rtEvent.email``.
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: The ``<ctx>`` element, or its XML text; ``None`` for an event without ctx.
    ctx: etree._Element | str | bytes | None = None

    @classmethod
    def from_element(cls, event: etree._Element) -> EventData:
        """Build the data of an ``<rtEvent>``/``<batchEvent>`` element and its ``<ctx>`` child."""
        ctx = next(
            (child for child in event if isinstance(child.tag, str) and _local(child.tag) == "ctx"),
            None,
        )
        attributes = {_local(str(key)): str(value) for key, value in event.attrib.items()}
        return cls(attributes=attributes, ctx=ctx)

    @cached_property
    def payload(self) -> str:
        """Return the JSON text the sandbox receives (computed once per event)."""
        ctx = _ctx_element(self.ctx)
        children = [] if ctx is None else [_node(ctx, "ctx")]
        fields = {str(key): str(value) for key, value in self.attributes.items()}
        attributes = {f"@{key}": value for key, value in fields.items()}
        return _ENCODER.encode(["rtEvent", "", attributes, children, fields])


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _node(element: etree._Element, name: str | None = None) -> _Node:
    children: list[_Node] = []
    tails: list[str] = []
    for child in element:
        if isinstance(child.tag, str):
            children.append(_node(child))
        tail = child.tail
        if tail and not tail.isspace():
            tails.append(tail)
    text = element.text or ""
    if children and text.isspace():
        text = ""
    if tails:
        text += "".join(tails)
    node: _Node = [name or _local(element.tag), text]
    attrib = element.attrib
    if attrib or children:
        # lxml returns str names and values for parsed XML (its stubs also allow bytes).
        pairs = cast(Iterable[tuple[str, str]], attrib.items())
        node.append({"@" + _local(key): value for key, value in pairs})
    if children:
        node.append(children)
    return node


def _ctx_element(ctx: etree._Element | str | bytes | None) -> etree._Element | None:
    if ctx is None or isinstance(ctx, etree._Element):
        return ctx
    data = ctx.encode() if isinstance(ctx, str) else ctx
    if not data.strip():
        return None
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise MalformedXml(f"The ctx is not well-formed XML: {exc}") from None
    # DocInfo.doctype is missing from lxml-stubs.
    doctype: str = getattr(root.getroottree().docinfo, "doctype", "")
    if doctype:
        raise HostileXml("The ctx must not carry a DOCTYPE")
    return root
