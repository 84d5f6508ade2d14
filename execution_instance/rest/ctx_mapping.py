"""Map a JSON ``ctx`` to the same XML ``<ctx>`` as SOAP, and back.

Objects become elements, arrays become repeated elements, keys starting with ``@`` become
attributes, scalars become text (``true``/``false`` for booleans), ``null`` an empty element.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from services.errors import InvalidRequest
from services.safe_input import require_xml_text

__all__ = ["ctx_to_json", "json_to_ctx"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_MAX_DEPTH = 32


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(key: str, path: str) -> None:
    name = key[1:] if key.startswith("@") else key
    if not _NAME.match(name) or name.lower().startswith("xml"):
        raise InvalidRequest(
            f"ctx key {path + key!r} is not a valid XML name",
            field=f"ctx.{path}{key}",
        )


def _fill(element: etree._Element, value: Any, path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise InvalidRequest(f"ctx is nested deeper than {_MAX_DEPTH} levels", field="ctx")
    if isinstance(value, dict):
        for key, child in value.items():
            _check(key, path)
            if key.startswith("@"):
                if isinstance(child, dict | list):
                    raise InvalidRequest(
                        f"ctx attribute {path + key!r} must be a string, number or boolean",
                        field=f"ctx.{path}{key}",
                    )
                if child is not None:
                    element.set(key[1:], require_xml_text(_text(child), field=f"ctx.{path}{key}"))
                continue
            for item in child if isinstance(child, list) else [child]:
                _fill(etree.SubElement(element, key), item, f"{path}{key}.", depth + 1)
    elif isinstance(value, list):
        raise InvalidRequest(f"ctx {path.rstrip('.')!r} holds a list inside a list", field="ctx")
    elif value is not None:
        element.text = require_xml_text(_text(value), field=f"ctx.{path.rstrip('.')}")


def json_to_ctx(ctx: dict[str, Any]) -> etree._Element:
    """Return the ``<ctx>`` element for a JSON object."""
    element = etree.Element("ctx")
    _fill(element, ctx, "", 0)
    return element


def ctx_to_json(element: etree._Element) -> dict[str, Any]:
    """Return the JSON object of a ``<ctx>`` element (repeated elements become lists)."""
    result: dict[str, Any] = {f"@{k!s}": str(v) for k, v in element.attrib.items()}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        value: Any
        if len(child) or child.attrib:
            value = ctx_to_json(child)
            if child.text and child.text.strip():
                value["$"] = child.text
        else:
            value = child.text or ""
        if name in result:
            existing = result[name]
            result[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[name] = value
    return result
