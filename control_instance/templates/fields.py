"""The personalization fields a template can use, read from its seeds (issue 18): what the
editor's field picker offers to insert (``<%= rtEvent.ctx.firstName %>``)."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from control_instance.templates.content import ChannelName
from control_instance.templates.seeds import parse_ctx
from services.errors import InvalidRequest

__all__ = ["personalization_fields"]

#: The event's own attributes, by channel: the address the message goes to, the website's id.
_ATTRIBUTES = {
    ChannelName.EMAIL: ("rtEvent.email", "rtEvent.externalId"),
    ChannelName.SMS: ("rtEvent.mobilePhone", "rtEvent.externalId"),
}
_MAX_FIELDS = 200


def personalization_fields(channel: ChannelName, contexts: Iterable[str]) -> list[str]:
    """Return the expressions a template of ``channel`` can print: the event's attributes,
    then every element (leaf) and attribute of the seeds' ctx, in the order first seen, as
    E4X paths (``rtEvent.ctx.order.@id``, ``rtEvent.ctx.order.item.name``)."""
    found: dict[str, None] = dict.fromkeys(_ATTRIBUTES.get(channel, ("rtEvent.externalId",)))
    for text in contexts:
        try:
            root = parse_ctx(text)
        except InvalidRequest:
            continue  # a seed whose ctx does not parse offers nothing (its editor says why)
        for path in _paths(root, "rtEvent.ctx"):
            found.setdefault(path)
            if len(found) >= _MAX_FIELDS:
                return list(found)
    return list(found)


def _paths(element: etree._Element, prefix: str) -> Iterable[str]:
    for name in element.attrib:
        yield f"{prefix}.@{etree.QName(name).localname}"
    children = [child for child in element if isinstance(child.tag, str)]
    if not children and element.getparent() is not None:
        yield prefix
    for child in children:
        yield from _paths(child, f"{prefix}.{etree.QName(child).localname}")
