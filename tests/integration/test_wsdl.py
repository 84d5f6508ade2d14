"""``GET /nl/jsp/schemawsdl.jsp`` on the execution instance and on mid-sourcing."""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import pytest
import zeep
from lxml import etree

from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from midsourcing.app import create_app as create_mid
from midsourcing.settings import MidSettings
from services.soap.schemas import get_schema
from tests.support.asgi import serve

WSDL_PATH = "/nl/jsp/schemawsdl.jsp"
EXECUTION_SCHEMAS = ("nms:rtEvent", "nms:batchEvent", "xtk:session", "xtk:persist", "xtk:queryDef")
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
SOAP_ADDRESS = f"{WSDL}service/{WSDL}port/{{http://schemas.xmlsoap.org/wsdl/soap/}}address"


def zeep_address(wsdl: bytes) -> str:
    client = zeep.Client(io.BytesIO(wsdl), settings=zeep.Settings(strict=True))
    return str(client.service._binding_options["address"])


async def test_execution_instance_serves_its_wsdls_addressed_to_the_load_balancer(
    tmp_path: Path,
) -> None:
    settings = ExecutionSettings(data_dir=tmp_path, port=8082, public_url="http://lb.example:8080/")
    async with serve(create_execution(settings)) as client:
        for schema in (
            "nms:rtEvent",
            "nms:batchEvent",
            "xtk:session",
            "xtk:persist",
            "xtk:queryDef",
        ):
            answer = await client.get(WSDL_PATH, params={"schema": schema})
            assert answer.status_code == 200
            assert answer.headers["content-type"] == "text/xml; charset=utf-8"
            root = etree.fromstring(answer.content)
            assert root.get("targetNamespace") == f"urn:{schema}"
            address = "http://lb.example:8080/nl/jsp/soaprouter.jsp"
            assert root.find(SOAP_ADDRESS).get("location") == address
            assert zeep_address(answer.content) == address


async def test_without_public_url_the_address_is_the_instance_itself(tmp_path: Path) -> None:
    settings = ExecutionSettings(data_dir=tmp_path, host="0.0.0.0", port=8083)
    async with serve(create_execution(settings)) as client:
        answer = await client.get(f"{WSDL_PATH}?schema=nms:rtEvent")
    assert zeep_address(answer.content) == "http://127.0.0.1:8083/nl/jsp/soaprouter.jsp"


async def test_the_address_is_escaped(tmp_path: Path) -> None:
    url = "http://lb.example:8080/cell?a=1&b='2'"
    settings = ExecutionSettings(data_dir=tmp_path, public_url=url)
    async with serve(create_execution(settings)) as client:
        answer = await client.get(WSDL_PATH, params={"schema": "xtk:session"})
    assert answer.status_code == 200
    assert zeep_address(answer.content) == url + "/nl/jsp/soaprouter.jsp"


@pytest.mark.parametrize(
    ("query", "status", "error"),
    [
        ({"schema": "nms:nope"}, 404, "not_found"),
        ({"schema": "nms:delivery"}, 404, "not_found"),
        ({"schema": ""}, 400, "invalid_request"),
        ({}, 400, "invalid_request"),
    ],
)
async def test_execution_instance_explains_unknown_or_missing_schemas(
    tmp_path: Path, query: dict[str, str], status: int, error: str
) -> None:
    async with serve(create_execution(ExecutionSettings(data_dir=tmp_path))) as client:
        answer = await client.get(WSDL_PATH, params=query)
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error
    assert body["field"] == "schema"
    assert body["detail"] == (
        "Known schemas: nms:rtEvent, nms:batchEvent, xtk:session, xtk:persist, xtk:queryDef."
    )


async def test_midsourcing_serves_session_and_delivery_only(tmp_path: Path) -> None:
    settings = MidSettings(data_dir=tmp_path, public_url="http://mid.example:8090")
    async with serve(create_mid(settings)) as client:
        for schema in ("xtk:session", "nms:delivery"):
            answer = await client.get(WSDL_PATH, params={"schema": schema})
            assert answer.status_code == 200
            assert zeep_address(answer.content) == "http://mid.example:8090/nl/jsp/soaprouter.jsp"
        refused = await client.get(WSDL_PATH, params={"schema": "nms:rtEvent"})
        missing = await client.get(WSDL_PATH)
    assert refused.status_code == 404
    assert "nms:rtEvent" in refused.json()["message"]
    assert refused.json()["detail"] == "Known schemas: xtk:session, nms:delivery."
    assert missing.status_code == 400


@pytest.mark.parametrize(
    ("served", "routed"),
    [
        ("execution_instance.routes.wsdl", "execution_instance.soapapi.methods"),
        ("midsourcing.routes.wsdl", "midsourcing.soapapi.methods"),
    ],
)
def test_every_method_a_served_wsdl_lists_is_routed(served: str, routed: str) -> None:
    schemas = importlib.import_module(served).SCHEMAS
    methods = importlib.import_module(routed).METHODS
    for schema in schemas:
        description = get_schema(schema)
        assert description is not None
        for method in description.methods:
            assert (schema, method.name) in methods, f"{schema}#{method.name}"
