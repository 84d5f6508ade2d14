"""Run a parsed query in the caller's read transaction and render its ``pdomOutput``."""

from __future__ import annotations

from lxml import etree
from sqlalchemy.orm import Session

from services.db import Database
from services.errors import InvalidRequest
from services.soap.envelope import SoapCall
from services.soap.response import Output
from services.xtk_query.compiler import build_statement, selected_nodes
from services.xtk_query.querydef import QueryDef, QueryOperation, read_query
from services.xtk_query.render import count_element, pdom_output, row_element, rows_collection
from services.xtk_query.schema import Schema, SchemaMap

__all__ = ["execute_query", "query_element", "run_query"]


def query_element(call: SoapCall) -> etree._Element:
    """Return the ``<queryDef>`` of an ExecuteQuery call: the first XML parameter's element.

    Adobe's JS SDK names that parameter ``document``, zeep users ``entity``, SoapUI others.
    """
    for parameter in call.params[1:]:
        for child in parameter:
            if isinstance(child.tag, str):
                return child
    raise InvalidRequest(
        "The query is missing: the parameter after sessiontoken must hold a "
        "<queryDef schema='…' operation='…'> document.",
        field="document",
    )


def run_query(db: Database, element: etree._Element, schemas: SchemaMap) -> Output:
    """Read ``<queryDef>`` and answer it in one read transaction (blocking: run it in a thread).

    Parsing happens here too, off the event loop: a query may hold 256 conditions of 4 KiB.
    """
    query = read_query(element)
    schema = schemas.get(query.schema)
    with db.transaction() as session:
        return execute_query(session, query, schema)


def execute_query(session: Session, query: QueryDef, schema: Schema) -> Output:
    """Answer ``query`` over ``schema``; a ``get`` that matches no row is a fault."""
    statement = build_statement(query, schema, dialect=session.get_bind().dialect.name)
    element = schema.element
    if query.operation is QueryOperation.COUNT:
        return pdom_output(count_element(element, session.execute(statement).scalar_one()))
    names = [node.name for node in selected_nodes(query, schema)]
    rows = session.execute(statement).all()
    if query.operation is QueryOperation.SELECT:
        return pdom_output(rows_collection(element, names, rows))
    if not rows and query.operation is QueryOperation.GET:
        raise InvalidRequest(
            f"No '{schema.name}' matches the query (operation 'get').",
            detail="'get' expects one row; operation 'getIfExists' answers an empty "
            f"<{element}/> instead"
            + (f"; {schema.not_found_hint}" if schema.not_found_hint else ""),
        )
    return pdom_output(row_element(element, names, rows[0] if rows else None))
