"""Requests exactly as Adobe's JS SDK 1.2.0 sends them (acc-js-sdk-wire §1), and answer readers.

Envelope: SOAP 1.1 with ``Content-Type: application/soap+xml``, unquoted ``SoapAction``, the
action again in ``?soapAction=``, ``<sessiontoken>`` first, unqualified parameters, the cookie
and security token repeated in ``SOAP-ENV:Header``.
"""

from __future__ import annotations

import copy as copy_module
from urllib.parse import quote

import httpx
from lxml import etree

ENVELOPE_OPEN = (
    '<SOAP-ENV:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:ns="http://xml.apache.org/xml-soap">'
)
LITERAL = 'SOAP-ENV:encodingStyle="http://xml.apache.org/xml-soap/literalxml"'
SOAP_ENV = "{http://schemas.xmlsoap.org/soap/envelope/}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def string(name: str, value: str) -> str:
    """Return a string parameter as the SDK writes it."""
    if not value:
        return f'<{name} xsi:type="xsd:string"/>'
    return f'<{name} xsi:type="xsd:string">{value}</{name}>'


def boolean(name: str, value: bool) -> str:
    """Return a boolean parameter as the SDK writes it."""
    return f'<{name} xsi:type="xsd:boolean">{"true" if value else "false"}</{name}>'


def document(name: str, xml: str) -> str:
    """Return a DOMDocument parameter as the SDK writes it (``xsi:type`` empty)."""
    return f'<{name} xsi:type="" {LITERAL}>{xml}</{name}>'


def envelope(urn: str, method: str, params: str, *, session: str = "", security: str = "") -> str:
    """Return the SDK's envelope of ``urn#method`` with ``params`` after ``<sessiontoken>``."""
    header = f"<Cookie>__sessiontoken={session}</Cookie>" if session else ""
    header += (
        f"<X-Security-Token>{security}</X-Security-Token>" if security else "<X-Security-Token/>"
    )
    return (
        f"{ENVELOPE_OPEN}<SOAP-ENV:Header>{header}</SOAP-ENV:Header><SOAP-ENV:Body>"
        f'<m:{method} xmlns:m="urn:{urn}" '
        'SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">'
        f"{string('sessiontoken', session)}{params}</m:{method}></SOAP-ENV:Body>"
        "</SOAP-ENV:Envelope>"
    )


async def call(
    client: httpx.AsyncClient,
    urn: str,
    method: str,
    params: str = "",
    *,
    session: str = "",
    security: str = "",
    bearer: str | None = None,
    internal: bool = False,
) -> httpx.Response:
    """POST ``urn#method`` with the SDK's headers: session tokens, or ``Authorization: Bearer``."""
    action = f"{urn}#{method}"
    headers = {
        "accept": "application/json, text/plain, */*",
        "content-type": "application/soap+xml;charset=UTF-8",
        "soapaction": action,
        "user-agent": "@adobe/acc-js-sdk/1.2.0 ACC Javascript SDK",
        "acc-sdk-version": "@adobe/acc-js-sdk 1.2.0",
        "x-query-source": "@adobe/acc-js-sdk 1.2.0",
    }
    if internal:
        headers["acc-sdk-call-internal"] = "1"
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
        headers["acc-sdk-auth"] = "ImsBearerToken"
        body = envelope(urn, method, params)
    else:
        headers["x-security-token"] = security
        headers["x-session-token"] = session
        if session:
            headers["cookie"] = f"__sessiontoken={session}"
        body = envelope(urn, method, params, session=session, security=security)
    return await client.post(
        f"/nl/jsp/soaprouter.jsp?soapAction={quote(action, safe='')}",
        content=body.encode(),
        headers=headers,
    )


def answer(response: httpx.Response, method: str) -> etree._Element:
    """Return ``<methodResponse>`` read as the SDK reads it (text names, no prefix), or fail."""
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    (body,) = [c for c in root if c.prefix == "SOAP-ENV" and c.tag == f"{SOAP_ENV}Body"]
    first = next(c for c in body if isinstance(c.tag, str))
    assert first.prefix is None and etree.QName(first).localname == f"{method}Response"
    return first


def outputs(response: httpx.Response, method: str) -> list[etree._Element]:
    """Return the output elements of an answer, in order."""
    return [c for c in answer(response, method) if isinstance(c.tag, str)]


def scalar(element: etree._Element, xsi_type: str) -> str:
    """Return a scalar output's text after checking its literal ``xsi:type`` (never padded)."""
    assert element.get(XSI_TYPE) == xsi_type
    text = element.text or ""
    assert text == text.strip()
    return text


def dom(element: etree._Element) -> etree._Element | None:
    """Return a DOM output's first child element with its tags as the SDK sees them (nodeName).

    An inherited default namespace is no part of a ``nodeName``; a prefix would be.
    """
    first = next((c for c in element if isinstance(c.tag, str)), None)
    if first is None:
        return None
    copy = copy_module.deepcopy(first)
    for node in copy.iter():
        if isinstance(node.tag, str):
            assert node.prefix is None, node.tag
            node.tag = etree.QName(node).localname
    etree.cleanup_namespaces(copy)
    return copy


def fault(response: httpx.Response) -> dict[str, str]:
    """Return faultcode, faultstring and detail of a SOAP 1.1 fault."""
    root = etree.fromstring(response.content)
    found = root.find(f"{SOAP_ENV}Body/{SOAP_ENV}Fault")
    assert found is not None, response.text
    return {child.tag: child.text or "" for child in found}
