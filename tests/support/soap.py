"""Build SOAP envelopes the way Campaign clients write them, and read the answers."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


def event_xml(
    event_type: str = "PASSWORD_RESET",
    *,
    element: str = "rtEvent",
    ctx: str = "<firstName>Ann</firstName>",
    **attributes: str,
) -> str:
    """Return an event document; keyword arguments become attributes (email="…")."""
    attrs = {"type": event_type, **attributes}
    if "email" not in attrs and attrs.get("wishedChannel", "0") == "0":
        attrs["email"] = "ann@example.com"
    rendered = " ".join(f"{k}={quoteattr(v)}" for k, v in attrs.items())
    return f"<{element} {rendered}><ctx>{ctx}</ctx></{element}>"


def push_event_envelope(
    event: str | None = None,
    *,
    token: str = "mc/mc",
    service: str = "nms:rtEvent",
    method: str = "PushEvent",
    parameter: str = "domEvent",
) -> str:
    """Return a SoapUI-style envelope (``urn:`` prefixes) for PushEvent or PushEvents."""
    body = event if event is not None else event_xml()
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP11}" xmlns:urn="urn:{service}">'
        "<soapenv:Header/><soapenv:Body>"
        f"<urn:{method}><urn:sessiontoken>{escape(token)}</urn:sessiontoken>"
        f"<urn:{parameter}>{body}</urn:{parameter}>"
        f"</urn:{method}></soapenv:Body></soapenv:Envelope>"
    )


def push_events_envelope(events: list[str], **options: str) -> str:
    """Return a PushEvents envelope with the events in an ``<Events>`` wrapper."""
    wrapper = "<Events>" + "".join(events) + "</Events>"
    return push_event_envelope(
        wrapper, method="PushEvents", parameter="domEventCollection", **options
    )


def logon_envelope(login: str, password: str) -> str:
    """Return an ``xtk:session#Logon`` envelope as in Campaign's docs."""
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP11}" xmlns:urn="urn:xtk:session">'
        "<soapenv:Header/><soapenv:Body><urn:Logon><urn:sessiontoken></urn:sessiontoken>"
        f"<urn:strLogin>{escape(login)}</urn:strLogin>"
        f"<urn:strPassword>{escape(password)}</urn:strPassword>"
        "<urn:elemParameters></urn:elemParameters></urn:Logon></soapenv:Body></soapenv:Envelope>"
    )


def fault_of(body: bytes | str) -> dict[str, str]:
    """Return the faultcode, faultstring and detail of a SOAP 1.1 Fault."""
    root = etree.fromstring(body.encode() if isinstance(body, str) else body)
    fault = root.find(f".//{{{SOAP11}}}Fault")
    assert fault is not None, f"not a fault: {body!r}"
    return {child.tag: (child.text or "") for child in fault if isinstance(child.tag, str)}


def outputs_of(body: bytes | str, name: str) -> list[str]:
    """Return the texts of every output element ``name`` in a response."""
    root = etree.fromstring(body.encode() if isinstance(body, str) else body)
    return [el.text or "" for el in root.iter() if etree.QName(el).localname == name]
