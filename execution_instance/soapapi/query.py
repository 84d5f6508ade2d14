"""``xtk:queryDef#ExecuteQuery`` on an execution instance: read-only queries of its events.

Adobe's JS SDK sends the query as the non-static ``this`` document, in a parameter named
``document``; zeep or SoapUI users may name it otherwise, so the query is the first XML
parameter after ``sessiontoken``, whatever its name.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from execution_instance.queries.schemas import build_schemas
from services.soap.envelope import SoapCall, SoapReply, render_response
from services.xtk_query import SchemaMap, query_element, run_query

if TYPE_CHECKING:  # methods.py imports this module to register the handler
    from execution_instance.soapapi.methods import CallContext

__all__ = ["execute_query_method"]


@cache
def _schemas() -> SchemaMap:
    return build_schemas()


async def execute_query_method(call: SoapCall, context: CallContext) -> SoapReply:
    """``ExecuteQuery(sessiontoken, document)`` → ``pdomOutput``: rows, one row or a count."""
    state = context.state
    await state.security.authenticate_async(context.credentials)
    output = await run_in_threadpool(run_query, state.db, query_element(call), _schemas())
    return render_response(call.service, call.method, (output,), version=call.version)
