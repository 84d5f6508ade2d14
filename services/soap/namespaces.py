"""XML namespaces and encoding styles of Campaign's SOAP API (campaign-facts §1.1, §1.6)."""

from __future__ import annotations

import enum

__all__ = [
    "APACHE_SOAP",
    "BATCH_EVENT",
    "DELIVERY",
    "ENCODING_LITERAL_XML",
    "ENCODING_SOAP",
    "RT_EVENT",
    "SESSION",
    "SOAP11_ENV",
    "SOAP12_ENV",
    "WSDL",
    "WSDL_SOAP",
    "XSD",
    "XSI",
    "SoapVersion",
    "service_namespace",
]

#: SOAP 1.1 envelope, bound to the ``SOAP-ENV`` prefix in everything Campaign writes.
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
#: SOAP 1.2 envelope; accepted on requests, and used to answer a SOAP 1.2 request.
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"

XSD = "http://www.w3.org/2001/XMLSchema"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
#: Apache SOAP's namespace, bound to ``ns`` in Campaign's documentation samples. The real
#: server binds ``ns`` to the called service's URN instead (see :mod:`services.soap.response`).
APACHE_SOAP = "http://xml.apache.org/xml-soap"

WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"

#: ``encodingStyle`` of a method element and of scalar values.
ENCODING_SOAP = "http://schemas.xmlsoap.org/soap/encoding/"
#: ``encodingStyle`` of an XML (DOM document or element) value.
ENCODING_LITERAL_XML = "http://xml.apache.org/xml-soap/literalxml"

RT_EVENT = "urn:nms:rtEvent"
BATCH_EVENT = "urn:nms:batchEvent"
SESSION = "urn:xtk:session"
DELIVERY = "urn:nms:delivery"


def service_namespace(service: str) -> str:
    """Return the namespace of a service's method element: ``nms:rtEvent`` → ``urn:nms:rtEvent``."""
    return f"urn:{service}"


class SoapVersion(enum.Enum):
    """The SOAP version of a request; its reply is written in the same version."""

    SOAP11 = SOAP11_ENV
    SOAP12 = SOAP12_ENV

    @property
    def namespace(self) -> str:
        """Return the envelope namespace of this version."""
        return str(self.value)

    @property
    def media_type(self) -> str:
        """Return the Content-Type of a message in this version."""
        if self is SoapVersion.SOAP12:
            return "application/soap+xml; charset=utf-8"
        return "text/xml; charset=utf-8"
