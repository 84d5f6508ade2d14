"""SOAP calls to the mid-sourcing server (``nms:delivery``), shared by every service that sends.

The execution instances hand delivery parts over and read delivery logs back; the control
instance sends proofs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

import httpx
from lxml import etree

from services.delivery_protocol import (
    DeliveryLog,
    DeliveryPart,
    parse_delivery_logs,
    render_delivery_part,
)
from services.soap.namespaces import SOAP11_ENV
from services.soap.parser import parse_xml

__all__ = ["DeliveryClient", "DeliveryClientError", "PartOutcome", "PartTooLarge", "UnsendablePart"]


class DeliveryClientError(Exception):
    """Mid-sourcing could not be reached or answered with a fault; the call may be retried."""


class UnsendablePart(ValueError):
    """The part can never be accepted as it is, and nothing of it was; a smaller part may be.

    Raised as such when the part cannot be written as XML (a message holds a character XML
    cannot carry): nothing was sent.
    """


class PartTooLarge(UnsendablePart, DeliveryClientError):
    """Mid-sourcing refused the request as too large (HTTP 413): nothing of it was accepted.

    Also a DeliveryClientError, as it was before it had a class of its own.
    """


@dataclass(frozen=True)
class PartOutcome:
    """What ``AppendDeliveryPart`` answered."""

    delivery_part_id: int
    fatal_error: int
    fatal_error_message: str


def _envelope(method: str, token: str, params: str) -> bytes:
    return (
        f"<soapenv:Envelope xmlns:soapenv='{SOAP11_ENV}' xmlns:urn='urn:nms:delivery'>"
        f"<soapenv:Body><urn:{method}><urn:sessiontoken>{escape(token)}</urn:sessiontoken>"
        f"{params}</urn:{method}></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _outputs(body: bytes) -> dict[str, etree._Element]:
    root = parse_xml(body, max_bytes=64 * 1024 * 1024, max_depth=64)
    fault = root.find(f".//{{{SOAP11_ENV}}}Fault")
    if fault is not None:
        reason = fault.findtext("faultstring") or "fault"
        detail = fault.findtext("detail") or ""
        raise DeliveryClientError(f"mid-sourcing fault: {reason} {detail}".strip())
    body_element = root.find(f"{{{SOAP11_ENV}}}Body")
    if body_element is None or len(body_element) == 0:
        raise DeliveryClientError("mid-sourcing answered an empty SOAP body")
    return {etree.QName(child).localname: child for child in body_element[0]}


def _text(outputs: dict[str, etree._Element], name: str) -> str:
    element = outputs.get(name)
    return "" if element is None else (element.text or "")


class DeliveryClient:
    """Talk to the mid-sourcing server with ``login/password`` in ``<sessiontoken>``."""

    def __init__(self, http: httpx.AsyncClient, *, url: str, login: str, password: str) -> None:
        self.http = http
        self.router = httpx.URL(url.rstrip("/") + "/nl/jsp/soaprouter.jsp")
        self.token = f"{login}/{password}"
        # The client's transport for the router, called directly: the client's own layers
        # (headers merged, auth, redirects, cookies, event hooks), which these calls never use,
        # cost about as much CPU as the transport itself (~0.2 ms a call). httpx 0.28 names
        # the lookup _transport_for_url; without it, the client's own post().
        lookup = getattr(http, "_transport_for_url", None)
        self._transport: httpx.AsyncBaseTransport | None = (
            lookup(self.router) if callable(lookup) else None
        )
        self._headers = list(http.headers.multi_items())
        self._timeout = http.timeout.as_dict()

    async def _post(self, body: bytes, action: str) -> tuple[int, bytes]:
        """POST ``body`` to the SOAP router; return the status and the whole answer."""
        headers = [("content-type", "text/xml; charset=utf-8"), ("soapaction", action)]
        if self._transport is None:
            answer = await self.http.post(self.router, content=body, headers=headers)
            return answer.status_code, answer.content
        request = httpx.Request(
            "POST",
            self.router,
            headers=[*self._headers, *headers],  # Host and Content-Length added by httpx
            content=body,
            extensions={"timeout": self._timeout},
        )
        response = await self._transport.handle_async_request(request)
        try:
            return response.status_code, await response.aread()
        finally:
            await response.aclose()

    async def _call(self, method: str, params: str) -> dict[str, etree._Element]:
        try:
            status, content = await self._post(
                _envelope(method, self.token, params), f"nms:delivery#{method}"
            )
        except httpx.HTTPError as exc:
            raise DeliveryClientError(f"mid-sourcing cannot be reached: {exc!r}") from exc
        if status == 413:
            raise PartTooLarge("mid-sourcing refused the request as too large (HTTP 413)")
        if status >= 500 and b"Fault" not in content:
            raise DeliveryClientError(f"mid-sourcing answered HTTP {status}")
        try:
            return _outputs(content)
        except DeliveryClientError:
            raise
        except Exception as exc:  # anything unreadable: retry later
            raise DeliveryClientError(f"mid-sourcing answered something unreadable: {exc}") from exc

    async def append_delivery_part(self, part: DeliveryPart, *, retry: bool) -> PartOutcome:
        """Hand a delivery part over; the mid-sourcing server is idempotent on its ids."""
        try:
            document = etree.tostring(render_delivery_part(part), encoding="unicode")
        except ValueError as exc:
            raise UnsendablePart(f"the delivery part cannot be written as XML: {exc}") from exc
        params = (
            f"<urn:deliveryPart>{document}</urn:deliveryPart>"
            f"<urn:retry>{'true' if retry else 'false'}</urn:retry>"
        )
        outputs = await self._call("AppendDeliveryPart", params)
        try:
            return PartOutcome(
                delivery_part_id=int(_text(outputs, "deliveryPartId") or 0),
                fatal_error=int(_text(outputs, "fatalError") or 0),
                fatal_error_message=_text(outputs, "fatalErrorMsg"),
            )
        except ValueError as exc:  # whether the part was accepted is unknown: send it again
            raise DeliveryClientError(f"mid-sourcing answered something unreadable: {exc}") from exc

    async def get_delivery_logs(
        self, *, cursor: str, limit: int, instance_id: int
    ) -> tuple[list[DeliveryLog], str]:
        """Return this instance's delivery logs after ``cursor``, and the next cursor."""
        params = (
            f"<urn:cursor>{escape(cursor)}</urn:cursor><urn:limit>{limit}</urn:limit>"
            f"<urn:instanceId>{instance_id}</urn:instanceId>"
        )
        outputs = await self._call("GetDeliveryLogs", params)
        holder = outputs.get("deliveryLogs")
        logs_root = (
            holder[0] if holder is not None and len(holder) else etree.Element("deliveryLogs")
        )
        next_cursor = outputs.get("nextCursor")
        return parse_delivery_logs(logs_root), (
            next_cursor.text or cursor
        ) if next_cursor is not None else cursor
