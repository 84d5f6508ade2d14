"""The WSDL of each SOAP schema mcsim serves, its ``soap:address`` filled in at serve time.

The documents are generated from :mod:`services.soap.schemas` (document/literal, one ``Element``
type per target namespace, ``soapAction`` values such as ``nms:rtEvent#PushEvent``), the same
description the compiled schemas of ``xtk:persist#GetEntityIfMoreRecent`` come from. Their
address is the serving instance's public URL plus :data:`ROUTER_PATH`: behind the load balancer
that is the load balancer's URL, so generated clients call the cell, not one instance.
"""

from __future__ import annotations

from collections.abc import Collection

from services.errors import InvalidRequest, NotFound
from services.soap.response import escape_attr
from services.soap.schemas import ADDRESS_PLACEHOLDER, SCHEMAS, wsdl_template

__all__ = ["ROUTER_PATH", "list_schemas", "render_wsdl", "router_url"]

#: Path of the SOAP router on every mcsim service that speaks SOAP.
ROUTER_PATH = "/nl/jsp/soaprouter.jsp"


def list_schemas() -> tuple[str, ...]:
    """Return the name of every schema that has a WSDL (``nms:rtEvent``, …)."""
    return tuple(schema.id for schema in SCHEMAS)


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
    template = wsdl_template(schema) if schema in known else None
    if template is None:
        raise NotFound(
            f"No WSDL for schema '{schema}' here.",
            detail=f"Known schemas: {listing}.",
            field="schema",
        )
    address = escape_attr(router_url(public_url))
    return template.replace(ADDRESS_PLACEHOLDER, address).encode("utf-8")
