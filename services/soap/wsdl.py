"""The WSDL of each SOAP schema mcsim serves, its ``soap:address`` filled in at serve time.

The documents live in ``services/soap/wsdl/*.wsdl`` (document/literal, one ``Element`` type per
target namespace, ``soapAction`` values such as ``nms:rtEvent#PushEvent``). Their address is the
serving instance's public URL plus :data:`ROUTER_PATH`: behind the load balancer that is the load
balancer's URL, so generated clients call the cell, not one instance.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from importlib import resources

from services.errors import InvalidRequest, NotFound
from services.soap.response import escape_attr

__all__ = ["ROUTER_PATH", "list_schemas", "render_wsdl", "router_url"]

#: Path of the SOAP router on every mcsim service that speaks SOAP.
ROUTER_PATH = "/nl/jsp/soaprouter.jsp"

_FILES = {
    "nms:rtEvent": "nms-rtEvent.wsdl",
    "nms:batchEvent": "nms-batchEvent.wsdl",
    "xtk:session": "xtk-session.wsdl",
    "nms:delivery": "nms-delivery.wsdl",
}
_ADDRESS = "{{SOAP_ADDRESS}}"


def list_schemas() -> tuple[str, ...]:
    """Return the name of every schema that has a WSDL (``nms:rtEvent``, …)."""
    return tuple(_FILES)


def router_url(public_url: str) -> str:
    """Return the SOAP router's URL under ``public_url``."""
    return public_url.rstrip("/") + ROUTER_PATH


def render_wsdl(
    schema: str | None, *, public_url: str, available: Collection[str] | None = None
) -> bytes:
    """Return the WSDL of ``schema`` addressed to ``public_url``'s SOAP router."""
    known = tuple(available) if available is not None else list_schemas()
    listing = ", ".join(known)
    if not schema:
        raise InvalidRequest(
            "The 'schema' query parameter is required, for example ?schema=" + known[0] + ".",
            detail=f"Known schemas: {listing}.",
            field="schema",
        )
    if schema not in known or schema not in _FILES:
        raise NotFound(
            f"No WSDL for schema '{schema}' here.",
            detail=f"Known schemas: {listing}.",
            field="schema",
        )
    return _template(schema).replace(_ADDRESS, escape_attr(router_url(public_url))).encode("utf-8")


@functools.cache
def _template(schema: str) -> str:
    text = (resources.files("services.soap") / "wsdl" / _FILES[schema]).read_text("utf-8")
    if text.count(_ADDRESS) != 1:
        raise RuntimeError(f"WSDL template for {schema} must hold one {_ADDRESS} placeholder")
    return text
