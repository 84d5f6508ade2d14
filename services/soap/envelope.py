"""Read a SOAP request into a :class:`SoapCall`; render replies (re-exported from ``response``).

Campaign matches parameters by position, not by name (campaign-facts §1.1): a call is the
service, the method and the ordered list of parameter elements, the first being always
``sessiontoken``. The method is taken, in this order, from the ``SOAPAction`` header
(``"nms:rtEvent#PushEvent"``, quotes and a ``urn:`` prefix optional), from the ``action``
parameter of a SOAP 1.2 ``Content-Type``, from a ``soapAction`` query parameter (as the JS SDK
sends it), and else from the Body's first element and its namespace (``urn:nms:rtEvent``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from services.errors import MalformedXml
from services.soap.namespaces import SOAP11_ENV, SOAP12_ENV, SoapVersion
from services.soap.parser import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, parse_xml
from services.soap.response import Output, SoapReply, render_fault, render_response

__all__ = [
    "Output",
    "SoapCall",
    "SoapReply",
    "SoapVersion",
    "parse_action",
    "read_call",
    "render_fault",
    "render_response",
]

_SERVICE = re.compile(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z][A-Za-z0-9_]*")
_METHOD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONTENT_TYPE_ACTION = re.compile(r";\s*action\s*=\s*(\"[^\"]*\"|[^;\s]*)", re.IGNORECASE)


_ENVELOPES = {f"{{{v.namespace}}}Envelope": v for v in SoapVersion}
_HEADER_TAGS = {v: f"{{{v.namespace}}}Header" for v in SoapVersion}
_BODY_TAGS = {v: f"{{{v.namespace}}}Body" for v in SoapVersion}


@dataclass(frozen=True, slots=True)
class SoapCall:
    """One SOAP request: service, method, positional parameters and the Header, if any."""

    service: str
    method: str
    params: tuple[etree._Element, ...]
    header: etree._Element | None
    method_element: etree._Element
    version: SoapVersion = SoapVersion.SOAP11

    @property
    def action(self) -> str:
        """Return the call as Campaign names it: ``nms:rtEvent#PushEvent``."""
        return f"{self.service}#{self.method}"

    @property
    def session_token(self) -> str:
        """Return the first parameter's text: the authentication chain (may be empty)."""
        return self.text(0)

    def text(self, index: int) -> str:
        """Return the text of the parameter at ``index``, or an empty string when it is absent."""
        if index >= len(self.params):
            return ""
        parameter = self.params[index]
        if len(parameter) == 0:  # text only, the usual case: no walk over the subtree
            return parameter.text or ""
        return "".join(str(text) for text in parameter.itertext())

    def document(self, index: int) -> etree._Element | None:
        """Return the first element inside the XML parameter at ``index``, if there is one."""
        if index >= len(self.params):
            return None
        return _first_element(self.params[index])


def parse_action(value: str | None) -> tuple[str, str] | None:
    """Split ``"nms:rtEvent#PushEvent"`` (quotes, ``urn:`` optional) into service and method."""
    if not value:
        return None
    action = value.strip().strip("\"'").strip().removeprefix("urn:")
    service, sep, method = action.partition("#")
    if sep and _SERVICE.fullmatch(service) and _METHOD.fullmatch(method):
        return service, method
    return None


def read_call(
    body: bytes,
    *,
    soap_action: str | None = None,
    content_type: str | None = None,
    query_action: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> SoapCall:
    """Parse a SOAP 1.1 or 1.2 request and name its method; refuse anything else."""
    named = (
        parse_action(soap_action)
        or parse_action(_content_type_action(content_type))
        or parse_action(query_action)
    )
    try:
        root = parse_xml(body, max_bytes=max_bytes, max_depth=max_depth)
    except MalformedXml as exc:
        raise MalformedXml(_invalid_message(named), detail=exc.detail) from None
    version = _ENVELOPES.get(root.tag) if isinstance(root.tag, str) else None
    if version is None:
        raise MalformedXml(_invalid_message(named), detail=_not_an_envelope(root))
    header, body_element = _header_and_body(root, version)
    if body_element is None:
        raise MalformedXml(_invalid_message(named), detail="the envelope has no Body element")
    method_element = _first_element(body_element)
    if method_element is None:
        raise MalformedXml(_invalid_message(named), detail="the SOAP Body is empty")
    service, method = named or _method_from_body(method_element)
    params = tuple(child for child in method_element if isinstance(child.tag, str))
    return SoapCall(service, method, params, header, method_element, version)


def _header_and_body(
    root: etree._Element, version: SoapVersion
) -> tuple[etree._Element | None, etree._Element | None]:
    # One pass over the envelope's children: ElementPath's find() costs more than the parse.
    header_tag, body_tag = _HEADER_TAGS[version], _BODY_TAGS[version]
    header = body = None
    for child in root:
        if child.tag == body_tag:
            if body is None:
                body = child
        elif child.tag == header_tag and header is None:
            header = child
    return header, body


def _content_type_action(content_type: str | None) -> str | None:
    if not content_type or "action" not in content_type.lower():
        return None
    match = _CONTENT_TYPE_ACTION.search(content_type)
    return match.group(1) if match else None


def _first_element(parent: etree._Element) -> etree._Element | None:
    for child in parent:
        if isinstance(child.tag, str):  # skip comments and processing instructions
            return child
    return None


def _method_from_body(element: etree._Element) -> tuple[str, str]:
    qname = etree.QName(element)
    service = (qname.namespace or "").removeprefix("urn:")
    if not qname.namespace or not _SERVICE.fullmatch(service):
        raise MalformedXml(
            "The SOAP method cannot be determined.",
            detail=f"the Body's element <{qname.localname}> is not in a 'urn:<namespace>:"
            f"<schema>' namespace and no SOAPAction header names the method",
        )
    return service, qname.localname


def _not_an_envelope(root: etree._Element) -> str:
    if not isinstance(root.tag, str):
        return "the document has no root element"
    qname = etree.QName(root)
    if qname.localname == "Envelope":
        return (
            f"envelope namespace '{qname.namespace or ''}' is neither SOAP 1.1 "
            f"('{SOAP11_ENV}') nor SOAP 1.2 ('{SOAP12_ENV}')"
        )
    return f"the root element is <{qname.localname}>, not a SOAP Envelope"


def _invalid_message(named: tuple[str, str] | None) -> str:
    if named is None:
        return "The XML SOAP message is invalid."
    service, method = named
    # Campaign's own wording, which names the method as the service and the service as the method.
    return f"The XML SOAP message is invalid (service '{method}', method '{service}')."
