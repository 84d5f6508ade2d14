"""xtk:queryDef#ExecuteQuery as Adobe's JS SDK sends it (sample 600), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import update

from execution_instance.intake.service import split_pl_id
from execution_instance.tables import Event
from tests.conftest import DatabaseTarget
from tests.integration.execution.conftest import InstanceFactory, soap
from tests.support.soap import event_xml, fault_of, outputs_of, push_event_envelope

pytestmark = pytest.mark.postgres

# What the SDK writes (acc-js-sdk-wire.md §1 and §7), byte for byte.
_ENVELOPE = (
    '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:ns="http://xml.apache.org/xml-soap"><SOAP-ENV:Header>'
    "<Cookie>__sessiontoken={token}</Cookie><X-Security-Token/></SOAP-ENV:Header>"
    '<SOAP-ENV:Body><m:ExecuteQuery xmlns:m="urn:xtk:queryDef" '
    'SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
    '<sessiontoken xsi:type="xsd:string">{token}</sessiontoken>'
    '<document xsi:type="" '
    'SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml">{query}</document>'
    "</m:ExecuteQuery></SOAP-ENV:Body></SOAP-ENV:Envelope>"
)
EVENT_TYPES_QUERY = (
    '<queryDef schema="xtk:enumValue" operation="select" xtkschema="xtk:queryDef"><select>'
    '<node expr="@id"/><node expr="@name"/><node expr="@label"/></select><where>'
    "<condition expr=\"[enum/@name]='eventType'\"/></where></queryDef>"
)
STATUS_QUERY = (
    '<queryDef schema="nms:rtEvent" operation="get" xtkschema="xtk:queryDef"><select>'
    '<node expr="@id"/><node expr="@status"/><node expr="@created"/><node expr="@processing"/>'
    '<node expr="@processed"/></select><where><condition expr="@id={pk}"/></where></queryDef>'
)
_XTK_DATE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
async def client(
    make_instance: InstanceFactory, database_target: DatabaseTarget
) -> AsyncIterator[httpx.AsyncClient]:
    """Yield instance 2 with the demo event types, on SQLite and (when set) PostgreSQL."""
    async with make_instance(
        instance_id=2,
        database_url=database_target.url,
        database_schema=database_target.schema,
    ) as instance:
        yield instance


async def execute(client: httpx.AsyncClient, query: str, token: str = "mc/mc") -> httpx.Response:
    """Send ExecuteQuery with the SDK's headers (SessionToken mode, ``mc/mc``)."""
    return await client.post(
        "/nl/jsp/soaprouter.jsp?soapAction=xtk%3AqueryDef%23ExecuteQuery",
        content=_ENVELOPE.format(token=token, query=query).encode(),
        headers={
            "Content-Type": "application/soap+xml;charset=UTF-8",
            "SoapAction": "xtk:queryDef#ExecuteQuery",
            "X-Security-Token": "",
            "X-Session-Token": token,
            "Cookie": f"__sessiontoken={token}",
        },
    )


def data_of(answer: httpx.Response) -> str:
    """Return the markup inside pdomOutput, exactly as sent."""
    assert answer.status_code == 200, answer.text
    assert "<ExecuteQueryResponse xmlns='urn:xtk:queryDef'" in answer.text
    match = re.search(r"<pdomOutput xsi:type='ns:Element'[^>]*>(.*)</pdomOutput>", answer.text)
    assert match is not None, answer.text
    return match.group(1)


def element_of(markup: str) -> etree._Element:
    """Parse the data markup (it declares no namespace: the SDK's JSON would show it)."""
    assert "xmlns" not in markup
    assert not any(":" in tag for tag in re.findall(r"</?([^\s/>]+)", markup)), markup
    return etree.fromstring(markup)


async def push(client: httpx.AsyncClient, **attributes: str) -> int:
    """Push one event (``element='batchEvent'`` for the batch queue) and return its key."""
    element = attributes.pop("element", "rtEvent")
    service = "nms:batchEvent" if element == "batchEvent" else "nms:rtEvent"
    answer = await soap(
        client,
        push_event_envelope(event_xml(element=element, **attributes), service=service),
        action=f"{service}#PushEvent",
    )
    assert answer.status_code == 200, answer.text
    (pl_id,) = outputs_of(answer.content, "plId")
    instance, pk = split_pl_id(int(pl_id))
    assert instance == 2
    return pk


def set_event(client: httpx.AsyncClient, pk: int, **values: Any) -> None:
    """Change a stored event, as processing would."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    db = transport.app.state.db  # type: ignore[attr-defined]
    with db.transaction(write=True) as session:
        session.execute(update(Event).where(Event.id == pk).values(**values))


def query(schema: str, operation: str, *, where: str = "", select: str = "", **extra: str) -> str:
    """Return a ``<queryDef>``; ``where`` and ``select`` are inner markup."""
    attributes = "".join(f' {key}="{value}"' for key, value in extra.items())
    parts = (f"<select>{select}</select>" if select else "") + (
        f"<where>{where}</where>" if where else ""
    )
    return f'<queryDef schema="{schema}" operation="{operation}"{attributes}>{parts}</queryDef>'


def nodes(*names: str) -> str:
    """Return select nodes for attributes."""
    return "".join(f'<node expr="@{name}"/>' for name in names)


def cond(expr: str, bool_operator: str | None = None) -> str:
    """Return a ``<condition>`` (the expression escaped for an attribute)."""
    escaped = expr.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    extra = f' boolOperator="{bool_operator}"' if bool_operator else ""
    return f'<condition expr="{escaped}"{extra}/>'


# -- sample 600, verbatim -------------------------------------------------------------------


async def test_sample_600_event_status_by_id_until_processed(client: httpx.AsyncClient) -> None:
    pk = await push(client)
    pending = element_of(data_of(await execute(client, STATUS_QUERY.format(pk=pk))))
    assert pending.tag == "rtEvent"
    assert list(pending.attrib) == ["id", "status", "created", "processing", "processed"]
    assert pending.get("id") == str(pk)
    assert pending.get("status") == "0"
    assert _XTK_DATE.fullmatch(pending.get("created") or "")
    assert pending.get("processing") == pending.get("processed") == ""

    moment = datetime(2026, 11, 28, 10, 0, 0, 123000, tzinfo=UTC)
    set_event(client, pk, status=2, processing_at=moment, processed_at=moment)
    markup = data_of(await execute(client, STATUS_QUERY.format(pk=pk)))
    done = element_of(markup)
    assert done.get("status") == "2"
    assert done.get("processed") == "2026-11-28 10:00:00.123Z"
    assert markup.startswith(f'<rtEvent id="{pk}" status="2" created="')


async def test_sample_600_published_event_types(client: httpx.AsyncClient) -> None:
    markup = data_of(await execute(client, EVENT_TYPES_QUERY))
    collection = element_of(markup)
    assert collection.tag == "enumValue-collection"
    rows = [dict(row.attrib) for row in collection]
    # Published together: ranked by name, the order of their ids.
    assert rows == [
        {"id": "1", "name": "ORDER_CONFIRMATION", "label": "ORDER_CONFIRMATION"},
        {"id": "2", "name": "PASSWORD_RESET", "label": "PASSWORD_RESET"},
    ]
    assert {row.tag for row in collection} == {"enumValue"}


async def test_event_types_of_another_enumeration_are_none(client: httpx.AsyncClient) -> None:
    answer = await execute(
        client,
        query("xtk:enumValue", "select", select=nodes("name"), where=cond("[enum/@name]='x'")),
    )
    assert data_of(answer) == "<enumValue-collection/>"


# -- operations ------------------------------------------------------------------------------


async def test_get_without_a_row_is_campaigns_fault(client: httpx.AsyncClient) -> None:
    answer = await execute(client, STATUS_QUERY.format(pk=987654))
    assert answer.status_code == 500
    fault = fault_of(answer.content)
    assert fault["faultcode"] == "SOAP-ENV:Client"
    assert fault["faultstring"] == (
        "SOP-330011 Error while executing the method 'ExecuteQuery' of service 'xtk:queryDef'."
    )
    assert "No 'nms:rtEvent' matches the query" in fault["detail"]
    assert "plId without the high byte" in fault["detail"]


async def test_get_if_exists_without_a_row_is_an_empty_element(client: httpx.AsyncClient) -> None:
    answer = await execute(
        client, query("nms:rtEvent", "getIfExists", select=nodes("id"), where=cond("@id=987654"))
    )
    assert data_of(answer) == "<rtEvent/>"


async def test_select_and_count_keep_the_two_queues_apart(client: httpx.AsyncClient) -> None:
    rt = [await push(client, email=f"rt{i}@example.com") for i in range(3)]
    batch = await push(client, element="batchEvent", email="b@example.com")
    markup = data_of(await execute(client, query("nms:rtEvent", "select", select=nodes("id"))))
    assert markup == (
        "<rtEvent-collection>"
        + "".join(f'<rtEvent id="{pk}"/>' for pk in rt)
        + "</rtEvent-collection>"
    )
    answer = await execute(client, query("nms:batchEvent", "select", select=nodes("id", "email")))
    assert data_of(answer) == (
        f'<batchEvent-collection><batchEvent id="{batch}" email="b@example.com"/>'
        "</batchEvent-collection>"
    )
    assert data_of(await execute(client, query("nms:rtEvent", "count"))) == '<rtEvent count="3"/>'
    answer = await execute(client, query("nms:batchEvent", "count", where=cond("@status=1")))
    assert data_of(answer) == '<batchEvent count="0"/>'
    answer = await execute(client, query("nms:rtEvent", "select", where=cond("@id<0")))
    assert data_of(answer) == "<rtEvent-collection/>"


async def test_where_order_by_line_count_and_start_line(client: httpx.AsyncClient) -> None:
    keys = [
        await push(client, email=email, externalId=external)
        for email, external in [
            ("ann@example.com", "1"),
            ("bob@example.org", "2"),
            ("Cid@example.com", "3"),
            ("dee@example.com", "4"),
        ]
    ]
    set_event(client, keys[1], status=2)
    set_event(client, keys[2], status=4, error_text="bounced")

    async def ids(where: str, **extra: str) -> list[str]:
        answer = await execute(
            client, query("nms:rtEvent", "select", select=nodes("id"), where=where, **extra)
        )
        return [row.get("id") or "" for row in element_of(data_of(answer))]

    key = [str(k) for k in keys]
    assert await ids(cond("@email LIKE '%@example.com'")) == [key[0], key[2], key[3]]
    assert await ids(cond("@email LIKE 'c%'")) == []  # case-sensitive, as on PostgreSQL
    assert await ids(cond("@email NOT LIKE '%.com'")) == [key[1]]
    assert await ids(cond("@status IN (2, 4)")) == [key[1], key[2]]
    assert await ids(cond("@status NOT IN (2, 4)")) == [key[0], key[3]]
    assert await ids(cond("@errorText IS NOT NULL")) == [key[2]]
    assert await ids(cond("@errorText IS NULL")) == [key[0], key[1], key[3]]
    assert await ids(cond("@status != 0") + cond("@externalId <> '2'")) == [key[2]]
    assert await ids(cond("@status=2", "OR") + cond("@status=4")) == [key[1], key[2]]
    assert await ids(cond(f"@id >= {keys[1]} AND @id <= {keys[2]}")) == [key[1], key[2]]
    assert await ids(cond(f"@id > {keys[2]} OR @externalId = 1")) == [key[0], key[3]]
    assert await ids(cond("@created > #2000-01-01#")) == key
    assert await ids(cond("@created < '2000-01-01 00:00:00.000Z'")) == []
    group = "<condition>" + cond("@status=2", "OR") + cond("@status=4") + "</condition>"
    assert await ids(group + cond("@email LIKE 'bob%'")) == [key[1]]

    answer = await execute(
        client,
        query("nms:rtEvent", "select", select=nodes("id"), lineCount="2", startLine="1")[:-11]
        + '<orderBy><node expr="@id" sortDesc="true"/></orderBy></queryDef>',
    )
    assert [row.get("id") for row in element_of(data_of(answer))] == [key[2], key[1]]


async def test_aliases_and_every_event_attribute(client: httpx.AsyncClient) -> None:
    pk = await push(client, email="ann@example.com", externalId="x&<\"'")
    answer = await execute(
        client,
        query(
            "nms:rtEvent",
            "get",
            select='<node expr="@id" alias="@eventId"/><node expr="@externalId"/>',
            where=cond(f"@id={pk}"),
        ),
    )
    row = element_of(data_of(answer))
    assert row.attrib == {"eventId": str(pk), "externalId": "x&<\"'"}
    everything = element_of(
        data_of(await execute(client, query("nms:rtEvent", "get", where=cond(f"@id={pk}"))))
    )
    assert everything.get("type") == "PASSWORD_RESET"
    assert everything.get("wishedChannel") == "0"
    assert {"lastModified", "failureReason", "errorText", "errorCount"} <= set(everything.attrib)


# -- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        (query("nms:recipient", "select"), "Unknown schema 'nms:recipient'"),
        (query("nms:rtEvent", "select", select=nodes("password")), "'@password'"),
        (query("nms:rtEvent", "select", where=cond("@nope=1")), "Unknown attribute '@nope'"),
        (query("nms:rtEvent", "update"), "operation 'update'"),
        (query("nms:rtEvent", "select", where=cond("@email='x' OR 1=1--")), "'-'"),
        (query("nms:rtEvent", "select", where=cond("@id=1;DROP TABLE events")), "';'"),
        (query("nms:rtEvent", "select", where=cond("Lower(@email)='a'")), "function 'Lower'"),
        (query("nms:rtEvent", "select", where=cond("@status='sent'")), "'sent'"),
        (query("nms:rtEvent", "select", where=cond("@id=99999999999999999999")), "range"),
        ('<queryDef schema="nms:rtEvent" operation="select" sql="1"/>', "'sql'"),
        ("<query/>", "not a <queryDef>"),
    ],
)
async def test_refusals_name_what_is_wrong(
    client: httpx.AsyncClient, document: str, detail: str
) -> None:
    await push(client)
    answer = await execute(client, document)
    assert answer.status_code == 500, answer.text
    fault = fault_of(answer.content)
    assert fault["faultstring"].startswith("SOP-330011 ")
    assert detail in fault["detail"], fault["detail"]


async def test_events_survive_an_injection_attempt(client: httpx.AsyncClient) -> None:
    pk = await push(client)
    await execute(client, query("nms:rtEvent", "select", where=cond("@id=1;DROP TABLE events")))
    await execute(client, query("nms:rtEvent", "select", where=cond("@email='x'' OR ''1'='1'")))
    answer = await execute(
        client, query("nms:rtEvent", "select", where=cond("@email='x\\' OR 1=1'"))
    )
    assert data_of(answer) == "<rtEvent-collection/>"  # one string, matched as data
    assert data_of(await execute(client, query("nms:rtEvent", "count"))) == '<rtEvent count="1"/>'
    assert pk


async def test_wrong_credentials_read_nothing(client: httpx.AsyncClient) -> None:
    await push(client)
    answer = await execute(client, query("nms:rtEvent", "count"), token="mc/wrong")
    assert answer.status_code == 500
    assert "count=" not in answer.text
    assert "Invalid login or password" in fault_of(answer.content).get("detail", "")


async def test_a_missing_query_is_refused(client: httpx.AsyncClient) -> None:
    answer = await execute(client, "")
    assert answer.status_code == 500
    assert "<queryDef" in fault_of(answer.content)["detail"]


async def test_soapui_style_with_any_parameter_name(client: httpx.AsyncClient) -> None:
    """zeep names the query parameter ``entity``, SoapUI prefixes everything with ``urn:``."""
    pk = await push(client)
    envelope = (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:xtk:queryDef"><soapenv:Header/><soapenv:Body><urn:ExecuteQuery>'
        "<urn:sessiontoken>mc/mc</urn:sessiontoken><urn:entity>"
        + query("nms:rtEvent", "get", select=nodes("id", "type"), where=cond(f"@id={pk}"))
        + "</urn:entity></urn:ExecuteQuery></soapenv:Body></soapenv:Envelope>"
    )
    answer = await soap(client, envelope, action="xtk:queryDef#ExecuteQuery")
    assert data_of(answer) == f'<rtEvent id="{pk}" type="PASSWORD_RESET"/>'


async def test_event_types_by_id_and_in_reverse(client: httpx.AsyncClient) -> None:
    answer = await execute(
        client,
        query("xtk:enumValue", "get", select=nodes("name"), where=cond("@id = 2")),
    )
    assert data_of(answer) == '<enumValue name="PASSWORD_RESET"/>'
    answer = await execute(
        client,
        query("xtk:enumValue", "select", select=nodes("id"))[:-11]
        + '<orderBy><node expr="@id" sortDesc="1"/></orderBy></queryDef>',
    )
    assert data_of(answer) == (
        '<enumValue-collection><enumValue id="2"/><enumValue id="1"/></enumValue-collection>'
    )
