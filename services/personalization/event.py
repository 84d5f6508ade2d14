"""The data a template renders: the event's attributes and its ``<ctx>`` XML.

The ctx travels into the sandbox as one JSON text (built once per event, however many fields
are rendered) of nodes ``[name, {attribute: value}, text, [children]]``, which the runtime
wraps in E4X-like views. As E4X does by default, comments, processing instructions and
whitespace-only text are dropped, and names lose their namespace prefix.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lxml import etree

from services.errors import HostileXml, MalformedXml

__all__ = ["EventData"]

_Node = list[Any]


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
        attributes = {str(key): str(value) for key, value in self.attributes.items()}
        document = ["rtEvent", attributes, "", children]
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _node(element: etree._Element, name: str | None = None) -> _Node:
    attributes = {_local(str(key)): str(value) for key, value in element.attrib.items()}
    texts = [element.text] if element.text and not element.text.isspace() else []
    children: list[_Node] = []
    for child in element:
        if isinstance(child.tag, str):
            children.append(_node(child))
        if child.tail and not child.tail.isspace():
            texts.append(child.tail)
    text = "".join(texts) if children else (element.text or "")
    return [name or _local(str(element.tag)), attributes, text, children]


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
