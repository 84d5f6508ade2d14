"""Render SOAP replies the way Campaign writes them: responses and faults.

The shape follows the real server (campaign-facts §1.6, the JS SDK's recorded responses)::

    <?xml version='1.0'?>
    <SOAP-ENV:Envelope xmlns:xsd='…XMLSchema' xmlns:xsi='…XMLSchema-instance'
        xmlns:ns='urn:nms:rtEvent' xmlns:SOAP-ENV='http://schemas.xmlsoap.org/soap/envelope/'>
    <SOAP-ENV:Body>
    <PushEventResponse xmlns='urn:nms:rtEvent' SOAP-ENV:encodingStyle='…/soap/encoding/'>
    <plId xsi:type='xsd:long'>72057594037935966</plId>
    </PushEventResponse>
    </SOAP-ENV:Body>
    </SOAP-ENV:Envelope>

``ns`` is bound to the service's URN, so an XML output's ``xsi:type='ns:Element'`` names the
``Element`` type each WSDL declares in its target namespace. Documents are built as strings:
every value goes through :func:`escape_text` / :func:`escape_attr`, which also replace the
characters XML 1.0 cannot carry at all (control characters, lone surrogates) with U+FFFD.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from services.errors import McsimError
from services.soap.namespaces import (
    ENCODING_LITERAL_XML,
    ENCODING_SOAP,
    XSD,
    XSI,
    SoapVersion,
    service_namespace,
)

__all__ = [
    "Output",
    "SoapReply",
    "escape_attr",
    "escape_text",
    "render_fault",
    "render_response",
]

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_SERVICE = re.compile(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z][A-Za-z0-9_]*")

_INVALID_XML = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"
_TEXT_SPECIAL = re.compile(f"[&<>\r{_INVALID_XML}]")
_ATTR_SPECIAL = re.compile(f"[&<>\"'\r\n\t{_INVALID_XML}]")
_ENTITIES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&apos;",
    "\r": "&#13;",
    "\n": "&#10;",
    "\t": "&#9;",
}


def _replace(match: re.Match[str]) -> str:
    return _ENTITIES.get(match.group(), "\ufffd")


def escape_text(value: str) -> str:
    """Return ``value`` safe as element content (``]]>`` included); unusable characters → U+FFFD."""
    if _TEXT_SPECIAL.search(value) is None:
        return value
    return _TEXT_SPECIAL.sub(_replace, value)


def escape_attr(value: str) -> str:
    """Return ``value`` safe inside a quoted attribute, whichever quote is used."""
    if _ATTR_SPECIAL.search(value) is None:
        return value
    return _ATTR_SPECIAL.sub(_replace, value)


@dataclass(frozen=True, slots=True)
class Output:
    """One rendered output parameter of a SOAP response; build it with a typed constructor."""

    markup: str

    @classmethod
    def long(cls, name: str, value: int) -> Output:
        """Return an ``xsd:long`` output (plId, ids)."""
        number = int(value)
        if not _LONG_MIN <= number <= _LONG_MAX:
            raise ValueError(f"{name}={number} does not fit an xsd:long")
        return cls._scalar(name, "xsd:long", str(number))

    @classmethod
    def longs(cls, name: str, values: Iterable[int]) -> list[Output]:
        """Return one ``xsd:long`` output per value (PushEvents' plIds), the name checked once."""
        _check_name(name)
        head, tail = f"<{name} xsi:type='xsd:long'>", f"</{name}>"
        outputs = []
        for value in values:
            number = int(value)
            if not _LONG_MIN <= number <= _LONG_MAX:
                raise ValueError(f"{name}={number} does not fit an xsd:long")
            outputs.append(cls(f"{head}{number}{tail}"))
        return outputs

    @classmethod
    def integer(cls, name: str, value: int) -> Output:
        """Return an ``xsd:int`` output."""
        number = int(value)
        if not _INT_MIN <= number <= _INT_MAX:
            raise ValueError(f"{name}={number} does not fit an xsd:int")
        return cls._scalar(name, "xsd:int", str(number))

    @classmethod
    def byte(cls, name: str, value: int) -> Output:
        """Return an ``xsd:byte`` output (``GetOption``'s type)."""
        number = int(value)
        if not -128 <= number <= 127:
            raise ValueError(f"{name}={number} does not fit an xsd:byte")
        return cls._scalar(name, "xsd:byte", str(number))

    @classmethod
    def string(cls, name: str, value: str) -> Output:
        """Return an ``xsd:string`` output, escaped."""
        return cls._scalar(name, "xsd:string", escape_text(value))

    @classmethod
    def boolean(cls, name: str, value: bool) -> Output:
        """Return an ``xsd:boolean`` output (``true`` / ``false``)."""
        return cls._scalar(name, "xsd:boolean", "true" if value else "false")

    @classmethod
    def timestamp(cls, name: str, value: datetime) -> Output:
        """Return an ``xsd:dateTime`` output in UTC, to the millisecond (``…T10:00:00.000Z``)."""
        if value.tzinfo is None:
            raise ValueError(f"{name} needs a timezone-aware datetime")
        utc = value.astimezone(UTC)
        text = utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
        return cls._scalar(name, "xsd:dateTime", text)

    @classmethod
    def xml(cls, name: str, element: etree._Element | None) -> Output:
        """Return an XML output (``xsi:type='ns:Element'``, literalxml) holding ``element``."""
        _check_name(name)
        inner = (
            "" if element is None else etree.tostring(element, encoding="unicode", with_tail=False)
        )
        return cls(
            f"<{name} xsi:type='ns:Element' SOAP-ENV:encodingStyle='{ENCODING_LITERAL_XML}'>"
            f"{inner}</{name}>"
        )

    @classmethod
    def xml_markup(cls, name: str, markup: str) -> Output:
        """Return an XML output holding ``markup``, well-formed XML rendered ahead of time."""
        _check_name(name)
        return cls(
            f"<{name} xsi:type='ns:Element' SOAP-ENV:encodingStyle='{ENCODING_LITERAL_XML}'>"
            f"{markup}</{name}>"
        )

    @classmethod
    def _scalar(cls, name: str, xsd_type: str, text: str) -> Output:
        _check_name(name)
        return cls(f"<{name} xsi:type='{xsd_type}'>{text}</{name}>")


@dataclass(frozen=True, slots=True)
class SoapReply:
    """A rendered SOAP reply: what the router sends back."""

    status_code: int
    body: bytes
    media_type: str


def render_response(
    service: str,
    method: str,
    outputs: list[Output] | tuple[Output, ...] = (),
    *,
    version: SoapVersion = SoapVersion.SOAP11,
) -> SoapReply:
    """Render ``<MethodResponse>`` of ``service`` with ``outputs`` in order, as Campaign does."""
    if not _SERVICE.fullmatch(service):
        raise ValueError(f"not a Campaign service name: {service!r}")
    _check_name(method)
    env = version.namespace
    urn = service_namespace(service)
    parts = "".join(f"{output.markup}\n" for output in outputs)
    document = (
        "<?xml version='1.0'?>\n"
        f"<SOAP-ENV:Envelope xmlns:xsd='{XSD}' xmlns:xsi='{XSI}' xmlns:ns='{urn}' "
        f"xmlns:SOAP-ENV='{env}'>\n<SOAP-ENV:Body>\n"
        f"<{method}Response xmlns='{urn}' SOAP-ENV:encodingStyle='{ENCODING_SOAP}'>\n"
        f"{parts}</{method}Response>\n</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
    )
    return SoapReply(200, document.encode("utf-8"), version.media_type)


def render_fault(error: McsimError, *, version: SoapVersion = SoapVersion.SOAP11) -> SoapReply:
    """Render ``error`` as a SOAP Fault: HTTP 500, or the refusal's own 403, 413, 415 or 421."""
    env = version.namespace
    reason = escape_text(error.fault_string)
    detail = None if error.detail is None else escape_text(error.detail)
    if version is SoapVersion.SOAP11:
        fault = (
            f"<faultcode>{escape_text(error.fault_code)}</faultcode>\n"
            f"<faultstring xsi:type='xsd:string'>{reason}</faultstring>\n"
            + ("" if detail is None else f"<detail xsi:type='xsd:string'>{detail}</detail>\n")
        )
    else:
        code = "SOAP-ENV:Sender" if error.fault_code.endswith(":Client") else "SOAP-ENV:Receiver"
        fault = (
            f"<SOAP-ENV:Code><SOAP-ENV:Value>{code}</SOAP-ENV:Value></SOAP-ENV:Code>\n"
            f"<SOAP-ENV:Reason><SOAP-ENV:Text xml:lang='en'>{reason}</SOAP-ENV:Text>"
            "</SOAP-ENV:Reason>\n"
            + ("" if detail is None else f"<SOAP-ENV:Detail>{detail}</SOAP-ENV:Detail>\n")
        )
    document = (
        "<?xml version='1.0'?>\n"
        f"<SOAP-ENV:Envelope xmlns:xsd='{XSD}' xmlns:xsi='{XSI}' xmlns:SOAP-ENV='{env}'>\n"
        f"<SOAP-ENV:Body>\n<SOAP-ENV:Fault>\n{fault}</SOAP-ENV:Fault>\n"
        "</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
    )
    return SoapReply(_fault_status(error), document.encode("utf-8"), version.media_type)


#: Refusals answered at the HTTP level (DESIGN §3.1): refused caller or cross-site request,
#: body too large, not a SOAP media type, Host not served here. Every other fault is a 500.
_HTTP_LEVEL = frozenset({403, 413, 415, 421})


def _fault_status(error: McsimError) -> int:
    status = error.status_code
    return status if status in _HTTP_LEVEL else 500


_CHECKED_NAMES: set[str] = set()  # names already checked: a reply may hold 1000 outputs


def _check_name(name: str) -> None:
    if name in _CHECKED_NAMES:
        return
    if not _NAME.fullmatch(name):
        raise ValueError(f"not an XML element name: {name!r}")
    if len(_CHECKED_NAMES) < 1024:
        _CHECKED_NAMES.add(name)
