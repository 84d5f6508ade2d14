"""The one description of every SOAP method mcsim serves; WSDLs and compiled schemas come from it.

Campaign describes a method once, in its schema (``<method name static><parameters><param name
type inout/>``), and derives two things from that: the WSDL served at
``/nl/jsp/schemawsdl.jsp?schema=…`` (what zeep, suds, .NET and Java generate clients from) and
the compiled schema ``xtk:persist#GetEntityIfMoreRecent`` returns for ``xtk:schema|<id>`` (what
Adobe's JS SDK reads before its first call of a schema's method: acc-js-sdk-wire §3). Both are
rendered here from :data:`SCHEMAS`, so they cannot disagree.

A :class:`Param` has the name its compiled schema gives it (the JS SDK writes an input under
that name) and the element name of the WSDL (what generated clients send and what an answer
carries: ``plId``, ``pdomOutput``). Parameters are positional on the wire (campaign-facts §1.1),
so the two names may differ. The WSDL's first input is always ``sessiontoken``; a non-static
method's second is ``entity``, the ``this`` document (the JS SDK calls it ``document``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from services.soap.response import escape_attr

__all__ = [
    "ADDRESS_PLACEHOLDER",
    "SCHEMAS",
    "XSD_TYPES",
    "Method",
    "Param",
    "Schema",
    "compiled_schema",
    "get_schema",
    "wsdl_template",
]

#: The WSDL (XML Schema) type of each XTK type; everything else is an XML document (``Element``).
XSD_TYPES: dict[str, str] = {
    "string": "s:string",
    "primarykey": "s:string",
    "boolean": "s:boolean",
    "byte": "s:byte",
    "short": "s:short",
    "long": "s:int",  # an XTK long is 32 bits: xsd:int on the wire (acc-js-sdk-wire §2)
    "int64": "s:long",
    "datetime": "s:dateTime",
    "date": "s:date",
}
_ELEMENT = "tns:Element"


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its compiled-schema name, XTK type and direction; its WSDL element name."""

    name: str
    type: str
    inout: Literal["in", "out"] = "in"
    element: str | None = None
    #: WSDL only: an output repeated once per item (PushEvents' plIds); declared once in the schema.
    repeated: bool = False
    #: WSDL only: an input a client may leave out.
    optional: bool = False

    @property
    def wire_name(self) -> str:
        """Return the element name of the WSDL and of answers."""
        return self.element or self.name

    @property
    def xsd_type(self) -> str:
        """Return the WSDL type: ``s:string``, ``s:long``, … or ``tns:Element`` for XML."""
        return XSD_TYPES.get(self.type, _ELEMENT)


@dataclass(frozen=True, slots=True)
class Method:
    """One SOAP method of a schema."""

    name: str
    params: tuple[Param, ...] = ()
    static: bool = True
    const: bool = False

    @property
    def inputs(self) -> tuple[Param, ...]:
        """Return the input parameters, in order (``sessiontoken`` not included)."""
        return tuple(p for p in self.params if p.inout == "in")

    @property
    def outputs(self) -> tuple[Param, ...]:
        """Return the output parameters, in order."""
        return tuple(p for p in self.params if p.inout == "out")


@dataclass(frozen=True, slots=True)
class Schema:
    """A Campaign schema with methods: ``nms:rtEvent``, ``xtk:session``, …"""

    id: str
    methods: tuple[Method, ...]
    doc: str
    #: Extra ``<element>`` declarations (types of outputs such as ``sessionUserInfo``).
    elements: tuple[str, ...] = ()

    @property
    def namespace(self) -> str:
        """Return ``nms`` of ``nms:rtEvent``."""
        return self.id.partition(":")[0]

    @property
    def name(self) -> str:
        """Return ``rtEvent`` of ``nms:rtEvent``."""
        return self.id.partition(":")[2]

    def method(self, name: str) -> Method | None:
        """Return the method called ``name``, if the schema has one."""
        return next((m for m in self.methods if m.name == name), None)


def _events(queue: str) -> Schema:
    return Schema(
        id=f"nms:{queue}",
        doc=f"Message Center, {'real-time' if queue == 'rtEvent' else 'batch'} event queue. "
        "PushEventsResponse holds one plId per event of the collection, in order (emulator "
        "choice: Campaign does not document this response); its compiled schema declares one "
        "int64 out, so Adobe's JS SDK returns the first id (acc-js-sdk-wire §4.4).",
        methods=(
            Method(
                "PushEvent",
                (Param("domEvent", "DOMDocument"), Param("plId", "int64", "out")),
            ),
            Method(
                "PushEvents",
                (
                    Param("domEventCollection", "DOMDocument"),
                    Param("plId", "int64", "out", repeated=True),
                ),
            ),
        ),
    )


_LOGON_OUTPUTS = (
    Param("sessionToken", "string", "out", element="pstrSessionToken"),
    Param("sessionInfo", "DOMElement", "out", element="pSessionInfo"),
    Param("securityToken", "string", "out", element="pstrSecurityToken"),
)

#: Every schema with methods that some mcsim service serves.
SCHEMAS: tuple[Schema, ...] = (
    _events("rtEvent"),
    _events("batchEvent"),
    Schema(
        id="xtk:session",
        doc="Sessions, reduced to the methods mcsim implements. GetServerTime is anonymous "
        "(send sessiontoken empty). Logon and BearerTokenLogon return pstrSessionToken "
        "('___' + UUID), pSessionInfo (<sessionInfo> with <serverInfo> and <userInfo>) and "
        "pstrSecurityToken ('@' + random). GetOption answers an unknown option with an empty "
        "value of type 0.",
        elements=("userInfo",),
        methods=(
            Method(
                "Logon",
                (
                    Param("login", "string", element="strLogin"),
                    Param("password", "string", element="strPassword"),
                    Param("parameters", "DOMElement", element="elemParameters"),
                    *_LOGON_OUTPUTS,
                ),
            ),
            Method("BearerTokenLogon", (Param("bearerToken", "string"), *_LOGON_OUTPUTS)),
            Method("Logoff"),
            Method(
                "GetServerTime",
                (Param("serverTime", "datetime", "out", element="ptmServerTime"),),
            ),
            Method(
                "GetUserInfo",
                (Param("userInfo", "sessionUserInfo", "out", element="pUserInfo"),),
            ),
            Method(
                "GetOption",
                (
                    Param("name", "string", element="strName"),
                    Param("value", "string", "out", element="pstrValue"),
                    Param("type", "byte", "out", element="pbtType"),
                ),
            ),
            Method(
                "GetModifiedEntities",
                (
                    Param("cacheEntities", "DOMDocument"),
                    Param("dirtyEntities", "DOMDocument", "out", element="pdomDirtyEntities"),
                ),
            ),
        ),
    ),
    Schema(
        id="xtk:persist",
        doc="Entities, reduced to GetEntityIfMoreRecent for compiled schemas (pk = "
        "'xtk:schema|nms:rtEvent', …): pdomDoc holds the <schema> of the entity, or nothing "
        "for an unknown entity when mustExist is false.",
        methods=(
            Method(
                "GetEntityIfMoreRecent",
                (
                    Param("pk", "string"),
                    Param("md5", "string"),
                    Param("mustExist", "boolean"),
                    Param("doc", "DOMDocument", "out", element="pdomDoc"),
                ),
            ),
        ),
    ),
    Schema(
        id="xtk:queryDef",
        doc="Queries, read-only: the queryDef travels as the 'this' document (entity), "
        "pdomOutput holds the result (<schema-collection> of rows for a select, one row for "
        "a get).",
        methods=(
            Method(
                "ExecuteQuery",
                (Param("output", "DOMDocument", "out", element="pdomOutput"),),
                static=False,
                const=True,
            ),
        ),
    ),
    Schema(
        id="nms:delivery",
        doc="Mid-sourcing, reduced to the methods mcsim implements. AppendDeliveryPart returns "
        "deliveryPartId, fatalError (non-zero: do not retry) and fatalErrorMsg, as Campaign "
        "documents it. GetDeliveryLogs(cursor, limit[, instanceId]) returns deliveryLogs (an "
        "XML document) and nextCursor: an emulator choice, Campaign's own pull of delivery logs "
        "is undocumented. With instanceId k, only the logs of execution instance k's messages "
        "come back.",
        methods=(
            Method(
                "AppendDeliveryPart",
                (
                    Param("deliveryPart", "DOMDocument"),
                    Param("retry", "boolean"),
                    Param("deliveryPartId", "int64", "out"),
                    Param("fatalError", "long", "out"),
                    Param("fatalErrorMsg", "string", "out"),
                ),
            ),
            Method(
                "GetDeliveryLogs",
                (
                    Param("cursor", "string"),
                    Param("limit", "long"),
                    Param("instanceId", "long", optional=True),
                    Param("deliveryLogs", "DOMDocument", "out"),
                    Param("nextCursor", "string", "out"),
                ),
            ),
        ),
    ),
)

_BY_ID = {schema.id: schema for schema in SCHEMAS}


def get_schema(schema_id: str) -> Schema | None:
    """Return the description of ``schema_id`` (``nms:rtEvent``), if mcsim has one."""
    return _BY_ID.get(schema_id)


@functools.cache
def compiled_schema(schema_id: str) -> str | None:
    """Return Campaign's compiled ``<schema>`` of ``schema_id``: unprefixed, no ``xmlns``."""
    schema = _BY_ID.get(schema_id)
    if schema is None:
        return None
    parts = [
        f'<schema namespace="{schema.namespace}" name="{schema.name}" xtkschema="xtk:schema">',
        *(f'<element name="{name}"/>' for name in (schema.name, *schema.elements)),
        "<methods>",
    ]
    for method in schema.methods:
        flags = ' static="true"' if method.static else ""
        flags += ' const="true"' if method.const else ""
        parts.append(f'<method name="{method.name}"{flags}><parameters>')
        parts.extend(
            f'<param name="{escape_attr(p.name)}" type="{p.type}" inout="{p.inout}"/>'
            for p in method.params
        )
        parts.append("</parameters></method>")
    parts.append("</methods></schema>")
    return "".join(parts)


#: Placeholder of the router's address in a WSDL template, replaced at serve time.
ADDRESS_PLACEHOLDER = "{{SOAP_ADDRESS}}"


def _sequence(elements: list[str]) -> str:
    if not elements:
        return "          <s:sequence/>\n"
    inner = "".join(f"            {e}\n" for e in elements)
    return f"          <s:sequence>\n{inner}          </s:sequence>\n"


def _wsdl_element(param: Param) -> str:
    occurs = (
        'maxOccurs="unbounded" minOccurs="0"'
        if param.repeated
        else f'maxOccurs="1" minOccurs="{0 if param.optional else 1}"'
    )
    return f'<s:element {occurs} name="{param.wire_name}" type="{param.xsd_type}"/>'


@functools.cache
def wsdl_template(schema_id: str) -> str | None:
    """Return the document/literal WSDL of ``schema_id``, its address a placeholder."""
    schema = _BY_ID.get(schema_id)
    if schema is None:
        return None
    urn = f"urn:{schema.id}"
    port = f"{schema.name}MethodsSoap"
    types, messages, operations, bindings = [], [], [], []
    body = (
        '        <soap:body encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" '
        'use="literal"/>\n'
    )
    for method in schema.methods:
        inputs = ['<s:element maxOccurs="1" minOccurs="1" name="sessiontoken" type="s:string"/>']
        if not method.static:
            inputs.append(
                f'<s:element maxOccurs="1" minOccurs="1" name="entity" type="{_ELEMENT}"/>'
            )
        inputs += [_wsdl_element(p) for p in method.inputs]
        outputs = [_wsdl_element(p) for p in method.outputs]
        for name, elements in ((method.name, inputs), (f"{method.name}Response", outputs)):
            types.append(
                f'      <s:element name="{name}">\n        <s:complexType>\n'
                f"{_sequence(elements)}        </s:complexType>\n      </s:element>\n"
            )
        messages.append(
            f'  <message name="{method.name}In">\n'
            f'    <part element="tns:{method.name}" name="parameters"/>\n  </message>\n'
            f'  <message name="{method.name}Out">\n'
            f'    <part element="tns:{method.name}Response" name="parameters"/>\n  </message>\n'
        )
        operations.append(
            f'    <operation name="{method.name}">\n'
            f'      <input message="tns:{method.name}In"/>\n'
            f'      <output message="tns:{method.name}Out"/>\n    </operation>\n'
        )
        bindings.append(
            f'    <operation name="{method.name}">\n'
            f'      <soap:operation soapAction="{schema.id}#{method.name}" style="document"/>\n'
            f"      <input>\n{body}      </input>\n      <output>\n{body}      </output>\n"
            "    </operation>\n"
        )
    service = schema.namespace.capitalize() + schema.name[:1].upper() + schema.name[1:]
    doc = schema.doc.replace("--", "- -")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<!--\n  mcsim: WSDL of {schema.id}, document/literal as Campaign serves it from\n"
        f"  /nl/jsp/schemawsdl.jsp?schema={schema.id}. Parameters are positional; the first is "
        f"always sessiontoken.\n  {doc}\n-->\n"
        '<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" '
        'xmlns:s="http://www.w3.org/2001/XMLSchema" '
        'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" '
        f'xmlns:tns="{urn}" targetNamespace="{urn}">\n'
        "  <types>\n"
        f'    <s:schema elementFormDefault="qualified" targetNamespace="{urn}">\n'
        '      <s:complexType name="Element">\n        <s:sequence>\n'
        '          <s:any processContents="lax" minOccurs="0"/>\n'
        "        </s:sequence>\n      </s:complexType>\n"
        f"{''.join(types)}    </s:schema>\n  </types>\n"
        f"{''.join(messages)}"
        f'  <portType name="{port}">\n{"".join(operations)}  </portType>\n'
        f'  <binding name="{port}" type="tns:{port}">\n'
        '    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>\n'
        f"{''.join(bindings)}  </binding>\n"
        f'  <service name="{service}">\n'
        f'    <port binding="tns:{port}" name="{port}">\n'
        f'      <soap:address location="{ADDRESS_PLACEHOLDER}"/>\n'
        "    </port>\n  </service>\n</definitions>\n"
    )
