"""The schemas the control instance answers ``xtk:queryDef#ExecuteQuery`` on.

``nms:extAccount`` lists the execution instances as Campaign lists its Message Center external
accounts (``@type`` 11, ``@isMessageCenter`` true: what Adobe's sample 600 asks for); the
account's password is not an attribute, so no query can read it. ``nms:eventHisto`` is the
archived event history (Campaign's NmsEventHisto): ``@id`` is the full plId, unique across
instances. ``xtk:enumValue`` lists the control instance's event types as the values of
enumeration ``eventType`` (``[enum/@name]='eventType'``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Boolean, Integer, SmallInteger, String, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from control_instance.tables import Account, ArchivedEvent, EventType
from services.xtk_query import Attribute, Schema, SchemaMap, XtkType

__all__ = ["EXT_ACCOUNT_TYPE", "build_schemas"]

_T = XtkType
#: ``nms:extAccount/@type`` of an execution instance (Campaign's "Execution instance").
EXT_ACCOUNT_TYPE = 11


class _UrlPort(FunctionElement[int]):
    """The port of a URL column: the explicit one, else 443 for https and 80 for http."""

    type = Integer()
    inherit_cache = True
    name = "url_port"


def _default_port(url: str) -> str:
    # No LIKE 'https:%': a bare % in compiled text is a placeholder to psycopg.
    return f"(CASE WHEN lower(substr({url}, 1, 6)) = 'https:' THEN 443 ELSE 80 END)"


@compiles(_UrlPort)
def _url_port_sqlite(element: _UrlPort, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite has no regular expressions: cut the authority out of the URL, drop an IPv6
    # host ([::1]), and read what follows its ':'.
    url = compiler.process(element.clauses, **kw)
    rest = f"substr({url}, instr({url}, '://') + 3)"
    authority = (
        f"(CASE WHEN instr({rest}, '/') > 0 "
        f"THEN substr({rest}, 1, instr({rest}, '/') - 1) ELSE {rest} END)"
    )
    tail = (
        f"(CASE WHEN instr({authority}, ']') > 0 "
        f"THEN substr({authority}, instr({authority}, ']') + 1) ELSE {authority} END)"
    )
    return (
        f"(CASE WHEN instr({tail}, ':') > 0 "
        f"THEN CAST(substr({tail}, instr({tail}, ':') + 1) AS INTEGER) "
        f"ELSE {_default_port(url)} END)"
    )


@compiles(_UrlPort, "postgresql")
def _url_port_postgres(element: _UrlPort, compiler: SQLCompiler, **kw: Any) -> str:
    url = compiler.process(element.clauses, **kw)
    pattern = r"'^[A-Za-z][A-Za-z0-9+.-]*://(?:\[[^]]*\]|[^/:]*):([0-9]+)'"
    return f"COALESCE(CAST(substring({url} from {pattern}) AS INTEGER), {_default_port(url)})"


def _ext_account() -> Schema:
    accounts = Account.__table__
    return Schema(
        name="nms:extAccount",
        source=accounts,
        attributes={
            "@id": Attribute(_T.LONG, accounts.c.id),
            "@name": Attribute(_T.STRING, accounts.c.name),
            "@label": Attribute(_T.STRING, accounts.c.label),
            "@type": Attribute(_T.BYTE, literal(EXT_ACCOUNT_TYPE, SmallInteger)),
            "@isMessageCenter": Attribute(_T.BOOLEAN, literal(True, Boolean)),
            "@executionInstanceId": Attribute(_T.SHORT, accounts.c.instance_id),
            "@server": Attribute(_T.STRING, accounts.c.url),
            "@port": Attribute(_T.LONG, _UrlPort(accounts.c.url)),
            "@account": Attribute(_T.STRING, accounts.c.login),
            "@active": Attribute(_T.BOOLEAN, accounts.c.enabled),
            "@created": Attribute(_T.DATETIME, accounts.c.created_at),
            "@lastModified": Attribute(_T.DATETIME, accounts.c.updated_at),
        },
        key=(accounts.c.id,),
    )


def _event_histo() -> Schema:
    events = ArchivedEvent.__table__
    return Schema(
        name="nms:eventHisto",
        source=events,
        attributes={
            "@id": Attribute(_T.INT64, events.c.pl_id),
            "@executionInstanceId": Attribute(_T.SHORT, events.c.instance_id),
            "@accountId": Attribute(_T.LONG, events.c.account_id),
            "@queue": Attribute(_T.STRING, events.c.queue),
            "@type": Attribute(_T.STRING, events.c.event_type),
            "@wishedChannel": Attribute(_T.SHORT, events.c.channel),
            "@status": Attribute(_T.SHORT, events.c.status),
            "@email": Attribute(_T.STRING, events.c.email),
            "@mobilePhone": Attribute(_T.STRING, events.c.mobile_phone),
            "@externalId": Attribute(_T.STRING, events.c.external_id),
            "@created": Attribute(_T.DATETIME, events.c.created_at),
            "@lastModified": Attribute(_T.DATETIME, events.c.updated_at),
            "@processing": Attribute(_T.DATETIME, events.c.processing_at),
            "@processed": Attribute(_T.DATETIME, events.c.processed_at),
            "@errorCount": Attribute(_T.LONG, events.c.error_count),
            "@failureReason": Attribute(_T.SHORT, events.c.failure_reason),
            "@errorText": Attribute(_T.STRING, events.c.error_text),
            "@template": Attribute(_T.STRING, events.c.template_name),
            "@templateVersion": Attribute(_T.LONG, events.c.template_version),
            "@deliveryPart": Attribute(_T.STRING, events.c.delivery_part),
            "@archived": Attribute(_T.DATETIME, events.c.archived_at),
        },
        key=(events.c.created_at, events.c.pl_id),
        not_found_hint="@id is the event's full plId",
    )


def _event_types() -> Schema:
    types = EventType.__table__
    return Schema(
        name="xtk:enumValue",
        source=types,
        attributes={
            "@id": Attribute(_T.LONG, types.c.id),
            "@name": Attribute(_T.STRING, types.c.name),
            "@label": Attribute(_T.STRING, types.c.label),
            "@created": Attribute(_T.DATETIME, types.c.created_at),
            "@lastModified": Attribute(_T.DATETIME, types.c.updated_at),
            "enum/@name": Attribute(_T.STRING, literal("eventType", String)),
        },
        key=(types.c.name,),
    )


@cache
def build_schemas() -> SchemaMap:
    """Return the schemas of the control instance (built once)."""
    return SchemaMap([_ext_account(), _event_histo(), _event_types()])
