"""``xtk:queryDef#ExecuteQuery`` on an execution instance: read-only queries of its events.

Adobe's JS SDK sends the query as the non-static ``this`` document, in a parameter named
``document``; zeep or SoapUI users may name it otherwise, so the query is the first XML
parameter after ``sessiontoken``, whatever its name.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from lxml import etree
from starlette.concurrency import run_in_threadpool

from execution_instance.queries.schemas import build_schemas
from services.db import Database
from services.errors import InvalidRequest
from services.soap.envelope import Output, SoapCall, SoapReply, render_response
from services.xtk_query import SchemaMap, execute_query, read_query

if TYPE_CHECKING:  # methods.py imports this module to register the handler
    from execution_instance.soapapi.methods import CallContext

__all__ = ["execute_query_method"]


@cache
def _schemas() -> SchemaMap:
    return build_schemas()


def _query_element(call: SoapCall) -> etree._Element:
    for parameter in call.params[1:]:
        for child in parameter:
            if isinstance(child.tag, str):
                return child
    raise InvalidRequest(
        "The query is missing: the parameter after sessiontoken must hold a "
        "<queryDef schema='…' operation='…'> document.",
        field="document",
    )


def _run(db: Database, element: etree._Element) -> Output:
    # Parsed here, off the event loop: a query may hold 256 conditions of 4 KiB each.
    query = read_query(element)
    schema = _schemas().get(query.schema)
    with db.transaction() as session:
        return execute_query(session, query, schema)


async def execute_query_method(call: SoapCall, context: CallContext) -> SoapReply:
    """``ExecuteQuery(sessiontoken, document)`` → ``pdomOutput``: rows, one row or a count."""
    state = context.state
    await state.security.authenticate_async(context.credentials)
    output = await run_in_threadpool(_run, state.db, _query_element(call))
    return render_response(call.service, call.method, (output,), version=call.version)
