"""``xtk:queryDef#ExecuteQuery``: Campaign's read-only queries, compiled to SQLAlchemy Core.

A service describes what can be queried (:class:`Schema`: a whitelist of attributes, each one
a column expression), reads the caller's ``<queryDef>`` with :func:`read_query` (expressions
are parsed by :mod:`services.xtk_query.expression`, never passed on as text) and answers with
:func:`execute_query` in its own read transaction.
"""

from __future__ import annotations

from services.xtk_query.compiler import HARD_ROW_LIMIT, build_statement
from services.xtk_query.execute import execute_query, query_element, run_query
from services.xtk_query.querydef import QueryDef, QueryOperation, read_query
from services.xtk_query.schema import Attribute, Schema, SchemaMap, XtkType

__all__ = [
    "HARD_ROW_LIMIT",
    "Attribute",
    "QueryDef",
    "QueryOperation",
    "Schema",
    "SchemaMap",
    "XtkType",
    "build_statement",
    "execute_query",
    "query_element",
    "read_query",
    "run_query",
]
