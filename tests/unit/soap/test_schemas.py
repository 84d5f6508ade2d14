"""One description, two renderings: each WSDL and each compiled schema describe the same calls."""

from __future__ import annotations

import pytest
from lxml import etree

from services.soap.schemas import SCHEMAS, XSD_TYPES, compiled_schema, get_schema, wsdl_template

S = "{http://www.w3.org/2001/XMLSchema}"
WSDL = "{http://schemas.xmlsoap.org/wsdl/}"
SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"
IDS = [schema.id for schema in SCHEMAS]
#: Input types Adobe's JS SDK can write, output types it can read (acc-js-sdk-wire §1, §2).
SDK_IN = {"string", "primarykey", "boolean", "byte", "short", "long", "int64", "datetime"}
SDK_IN |= {"date", "DOMDocument", "DOMElement"}
SDK_OUT = SDK_IN  # but never int, float or double


def compiled(schema_id: str) -> etree._Element:
    text = compiled_schema(schema_id)
    assert text is not None
    return etree.fromstring(text)


def wsdl(schema_id: str) -> etree._Element:
    text = wsdl_template(schema_id)
    assert text is not None
    return etree.fromstring(text.encode())


def sequence(root: etree._Element, element: str) -> list[tuple[str, str, str, str]]:
    found = root.find(f"{WSDL}types/{S}schema/{S}element[@name='{element}']")
    assert found is not None, element
    return [
        (e.get("name", ""), e.get("type", ""), e.get("minOccurs", ""), e.get("maxOccurs", ""))
        for e in found.iter(f"{S}element")
        if e is not found
    ]


@pytest.mark.parametrize("schema_id", IDS)
def test_compiled_schemas_are_unprefixed_without_namespaces(schema_id: str) -> None:
    text = compiled_schema(schema_id)
    assert text is not None
    assert "xmlns" not in text
    root = etree.fromstring(text)
    assert all(":" not in str(e.tag) and "{" not in str(e.tag) for e in root.iter())
    namespace, name = schema_id.split(":")
    assert (root.tag, root.get("namespace"), root.get("name")) == ("schema", namespace, name)
    assert root.get("xtkschema") == "xtk:schema"
    assert root.find("element").get("name") == name
    assert compiled_schema(schema_id) is text  # computed once


@pytest.mark.parametrize("schema_id", IDS)
def test_the_wsdl_and_the_compiled_schema_describe_the_same_calls(schema_id: str) -> None:
    schema = get_schema(schema_id)
    assert schema is not None
    document, root = wsdl(schema_id), compiled(schema_id)
    assert document.get("targetNamespace") == f"urn:{schema_id}"
    methods = root.findall("methods/method")
    assert [m.get("name") for m in methods] == [m.name for m in schema.methods]
    actions = [
        op.get("soapAction") for op in document.iter(f"{SOAP}operation") if op.get("soapAction")
    ]
    assert actions == [f"{schema_id}#{m.name}" for m in schema.methods]
    for method, element in zip(schema.methods, methods, strict=True):
        assert (element.get("static") == "true") is method.static
        params = [(p.get("name"), p.get("type"), p.get("inout")) for p in element.iter("param")]
        assert params == [(p.name, p.type, p.inout) for p in method.params]
        request = sequence(document, method.name)
        head = [("sessiontoken", "s:string", "1", "1")]
        if not method.static:
            head.append(("entity", "tns:Element", "1", "1"))
        assert request[: len(head)] == head
        assert [r[:2] for r in request[len(head) :]] == [
            (p.wire_name, XSD_TYPES.get(p.type, "tns:Element")) for p in method.inputs
        ]
        response = sequence(document, f"{method.name}Response")
        assert [r[:2] for r in response] == [
            (p.wire_name, XSD_TYPES.get(p.type, "tns:Element")) for p in method.outputs
        ]


@pytest.mark.parametrize("schema_id", IDS)
def test_every_type_is_one_the_js_sdk_reads_or_declares(schema_id: str) -> None:
    root = compiled(schema_id)
    elements = {e.get("name") for e in root.findall("element")}
    for param in root.iter("param"):
        kind = param.get("type", "")
        allowed = SDK_IN if param.get("inout") == "in" else SDK_OUT
        if kind not in allowed:  # a type of the schema: sessionUserInfo -> <element userInfo>
            local = kind.removeprefix(root.get("name", ""))
            assert local != kind and local[:1].lower() + local[1:] in elements, kind


def test_the_js_sdk_s_static_and_instance_methods() -> None:
    events = compiled("nms:rtEvent")
    assert [m.get("static") for m in events.iter("method")] == ["true", "true"]
    (query,) = compiled("xtk:queryDef").iter("method")
    assert query.get("static") is None
    assert [(p.get("name"), p.get("inout")) for p in query.iter("param")] == [("output", "out")]
    assert sequence(wsdl("xtk:queryDef"), "ExecuteQueryResponse")[0][0] == "pdomOutput"
    session = compiled("xtk:session")
    assert session.find("element[@name='userInfo']") is not None
    info = session.find("methods/method[@name='GetUserInfo']/parameters/param")
    assert info is not None and info.get("type") == "sessionUserInfo"


def test_push_events_repeats_its_plid_in_the_wsdl_only() -> None:
    assert sequence(wsdl("nms:rtEvent"), "PushEventsResponse") == [
        ("plId", "s:long", "0", "unbounded")
    ]
    method = compiled("nms:rtEvent").find("methods/method[@name='PushEvents']")
    assert method is not None
    assert [p.get("type") for p in method.iter("param") if p.get("inout") == "out"] == ["int64"]


def test_unknown_schemas_have_nothing() -> None:
    assert compiled_schema("nms:nope") is None
    assert wsdl_template("nms:nope") is None
    assert get_schema("xtk:schema") is None
