"""``xtk:persist#GetEntityIfMoreRecent``: the compiled schemas clients load before calling.

Adobe's JS SDK asks for ``xtk:schema|<id>`` once per client and schema, before its first call
of one of the schema's methods (acc-js-sdk-wire §3), with an empty ``md5`` and ``mustExist``
false. The answer is a precomputed string (:func:`services.soap.schemas.compiled_schema`).
An entity the service does not have is an empty ``pdomDoc`` — or, when ``mustExist`` is true, a
fault that names it; ``md5`` equal to the entity's own means "not more recent": empty too.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection

from services.errors import InvalidRequest
from services.soap.envelope import Output, SoapCall, SoapReply, render_response
from services.soap.schemas import compiled_schema

__all__ = ["entity_md5", "get_entity_if_more_recent"]

_SCHEMA_ENTITY = "xtk:schema|"


@functools.cache
def _outputs(schema_id: str) -> tuple[Output, str] | None:
    text = compiled_schema(schema_id)
    if text is None:
        return None
    digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
    return Output.xml_markup("pdomDoc", text), digest


def entity_md5(schema_id: str) -> str | None:
    """Return the md5 of the compiled schema ``schema_id`` (a client's cache key)."""
    found = _outputs(schema_id)
    return None if found is None else found[1]


def get_entity_if_more_recent(call: SoapCall, *, available: Collection[str]) -> SoapReply:
    """``GetEntityIfMoreRecent(sessiontoken, pk, md5, mustExist)`` → ``pdomDoc``.

    ``available`` are the schemas the serving service has (``nms:rtEvent``, …); the caller has
    been authenticated already.
    """
    pk, md5 = call.text(1).strip(), call.text(2).strip().lower()
    must_exist = call.text(3).strip().lower() in ("true", "1")
    schema_id = pk.removeprefix(_SCHEMA_ENTITY) if pk.startswith(_SCHEMA_ENTITY) else None
    found = _outputs(schema_id) if schema_id in available and schema_id else None
    if found is None:
        if must_exist:
            raise InvalidRequest(
                f"The entity '{pk}' does not exist.",
                detail=f"known entities: {', '.join(_SCHEMA_ENTITY + s for s in available)}",
                field="pk",
            )
        return _empty(call)
    output, digest = found
    if md5 == digest:
        return _empty(call)
    return render_response(call.service, call.method, (output,), version=call.version)


def _empty(call: SoapCall) -> SoapReply:
    return render_response(
        call.service, call.method, (Output.xml("pdomDoc", None),), version=call.version
    )
