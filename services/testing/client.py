"""A small typed client for tests against mcsim: push events, wait for messages and statuses,
inject chaos, move the clock, reset between tests.

Every wait happens on the server (long-polls, see the README's "Waiting on the server"), so a
test never sleeps: ``wait_for_message`` answers as soon as the message is captured.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self
from xml.sax.saxutils import escape, quoteattr

import httpx
from lxml import etree, html

from services.dev_credentials import ADMIN, OPERATOR, TECHNICAL_TOKEN
from services.testing.stack import StackUrls
from services.waiting import MAX_WAIT_SECONDS

__all__ = [
    "CapturedMessage",
    "EventState",
    "McsimCallError",
    "McsimClient",
    "PostedEvent",
    "WaitTimeout",
]

_CHANNELS = {"email": "0", "sms": "1", "ios": "41", "android": "42"}
_IN_PROGRESS = {"pending", "processing"}
_FINAL = {"processed", "ignored", "deliveryFailed", "routingFailed", "tooOld"}
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+")
_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


class McsimCallError(RuntimeError):
    """A service refused a call (SOAP fault, HTTP error), with what it said."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        #: The HTTP status of the refusal (None: no answer, or a SOAP fault).
        self.status = status


class WaitTimeout(AssertionError):
    """What a test waited for did not happen in time (an AssertionError: the test fails)."""


@dataclass(frozen=True)
class PostedEvent:
    """An event accepted by the REST API."""

    pl_id: int
    href: str
    status: str


@dataclass(frozen=True)
class EventState:
    """An event's status as the REST API shows it."""

    pl_id: int
    status: str
    failure_reason: int | None
    error: str | None
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class CapturedMessage:
    """A message mid-sourcing captured, as a test reads it."""

    id: int
    channel: str
    to: str
    subject: str
    from_name: str
    from_address: str
    reply_to: str
    text: str
    html: str
    headers: tuple[tuple[str, str], ...]
    links: tuple[str, ...]
    status: str
    event_id: int
    event_type: str
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def sender(self) -> str:
        """Return the From header as sent (``Acme <noreply@acme.test>``)."""
        return self.header("From") or self.from_address

    def header(self, name: str) -> str | None:
        """Return the first header called ``name`` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> CapturedMessage:
        """Build a message from ``GET /api/v1/messages/{id}``."""
        channel = str(body["channel"])
        text = str(body.get("text", ""))
        markup = str(body.get("html", ""))
        return cls(
            id=int(body["id"]),
            channel=channel,
            to=str(body["to"]),
            subject=str(body.get("subject", "")),
            from_name=str(body.get("fromName", "")),
            from_address=str(body.get("fromAddress", "")),
            reply_to=str(body.get("replyTo", "")),
            text=text,
            html=markup,
            headers=tuple((str(h["name"]), str(h["value"])) for h in body.get("headers", [])),
            links=_links(markup, text),
            status=str(body["status"]),
            event_id=int(body["eventId"]),
            event_type=str(body.get("eventType", "")),
            raw=body,
        )


def _links(markup: str, text: str) -> tuple[str, ...]:
    """Return the links of a message: the HTML's hrefs, then URLs of the text, each once."""
    found: list[str] = []
    if markup.strip():
        with suppress(etree.ParserError, ValueError):  # not HTML at all: no link in it
            found.extend(
                str(a.get("href")) for a in html.fromstring(markup).iter("a") if a.get("href")
            )
    # A sentence's punctuation after a URL is not part of it.
    found.extend(url.rstrip(".,;:!?)") for url in _URL_IN_TEXT.findall(text))
    return tuple(dict.fromkeys(link.strip() for link in found if link.strip()))


def _ctx_xml(value: Any, name: str) -> str:
    """Return ``value`` as the XML of element ``name`` (dicts: children, ``@key``: attributes,
    lists: repeated elements), as the REST API maps JSON ctx."""
    if isinstance(value, Mapping):
        attributes = "".join(
            f" {key[1:]}={quoteattr(str(item))}" for key, item in value.items() if key[:1] == "@"
        )
        children = "".join(
            _ctx_xml(item, key) for key, item in value.items() if not key.startswith("@")
        )
        return f"<{name}{attributes}>{children}</{name}>"
    if isinstance(value, list | tuple):
        return "".join(_ctx_xml(item, name) for item in value)
    return f"<{name}>{escape(str(value))}</{name}>"


class McsimClient:
    """Call a stack as a website (SOAP, REST) and as its tests (messages, chaos, reset)."""

    def __init__(
        self,
        urls: StackUrls,
        *,
        credentials: tuple[str, str] = OPERATOR,
        token: str = TECHNICAL_TOKEN,
        admin: tuple[str, str] = ADMIN,
        organization: str = "acme",
        timeout: float = 30.0,
    ) -> None:
        self.urls = urls
        self.credentials = credentials
        self.token = token
        self.admin = admin
        self.organization = organization
        self.http = httpx.Client(timeout=timeout, trust_env=False)
        self._types: dict[int, str] = {}  # event type of each event this client sent
        self._admin_token: str | None = None

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- sending events -----------------------------------------------------------------------
    def push_event(
        self,
        event_type: str,
        *,
        email: str | None = None,
        mobile_phone: str | None = None,
        channel: str | None = None,
        ctx: Mapping[str, Any] | None = None,
        batch: bool = False,
        scheduled: datetime | str | None = None,
        expiration: datetime | str | None = None,
        external_id: str | None = None,
    ) -> int:
        """Send one event with SOAP ``PushEvent`` through the load balancer; return its plId."""
        element = "batchEvent" if batch else "rtEvent"
        attributes = {
            "type": event_type,
            "email": email,
            "mobilePhone": mobile_phone,
            "wishedChannel": _CHANNELS[channel] if channel else None,
            "externalId": external_id,
            "scheduled": _moment(scheduled),
            "expiration": _moment(expiration),
        }
        rendered = " ".join(f"{k}={quoteattr(v)}" for k, v in attributes.items() if v is not None)
        event = f"<{element} {rendered}>{_ctx_xml(dict(ctx or {}), 'ctx')}</{element}>"
        service = "nms:batchEvent" if batch else "nms:rtEvent"
        login, password = self.credentials
        envelope = (
            f'<soapenv:Envelope xmlns:soapenv="{_SOAP_ENV}" xmlns:urn="urn:{service}">'
            "<soapenv:Body><urn:PushEvent>"
            f"<urn:sessiontoken>{escape(login)}/{escape(password)}</urn:sessiontoken>"
            f"<urn:domEvent>{event}</urn:domEvent>"
            "</urn:PushEvent></soapenv:Body></soapenv:Envelope>"
        )
        answer = self._call(
            "POST",
            self.urls.lb + "/nl/jsp/soaprouter.jsp",
            content=envelope.encode(),
            headers={
                "content-type": "text/xml; charset=utf-8",
                "SOAPAction": f"{service}#PushEvent",
            },
            soap=True,
        )
        pl_id = int(_soap_value(answer.content, "plId"))
        self._types[pl_id] = event_type
        return pl_id

    def post_event(
        self,
        event_type: str,
        *,
        email: str | None = None,
        mobile_phone: str | None = None,
        channel: str | None = None,
        ctx: Mapping[str, Any] | None = None,
        scheduled: datetime | str | None = None,
        expiration: datetime | str | None = None,
        external_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> PostedEvent:
        """Send one event to the REST transactional API through the load balancer."""
        body: dict[str, Any] = {"ctx": dict(ctx or {})}
        optional = {
            "email": email,
            "mobilePhone": mobile_phone,
            "wishedChannel": int(_CHANNELS[channel]) if channel else None,
            "scheduled": _moment(scheduled),
            "expiration": _moment(expiration),
            "externalId": external_id,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        headers = {"authorization": f"Bearer {self.token}"}
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        answer = self._call("POST", self._events_url(event_type), json=body, headers=headers)
        created = answer.json()
        pl_id = int(created["PKey"])
        self._types[pl_id] = event_type
        return PostedEvent(pl_id=pl_id, href=str(created["href"]), status=str(created["status"]))

    # -- waiting ------------------------------------------------------------------------------
    def wait_for_status(
        self,
        pl_id: int,
        status: str | None = None,
        timeout: float = 10.0,
        *,
        event_type: str | None = None,
    ) -> EventState:
        """Wait until the event has ``status`` (a REST name: ``processed``, ``ignored``…), or,
        without one, until it is neither pending nor processing; return its state.

        Raises :class:`WaitTimeout` when it does not happen within ``timeout`` seconds, or when
        the event ends with another final status (it can never reach ``status`` then).
        ``event_type`` is needed only for events this client did not send.
        """
        kind = event_type or self._types.get(pl_id)
        if kind is None:
            raise ValueError(f"event {pl_id} was not sent by this client: pass its event_type")
        url = f"{self._events_url(kind)}/{pl_id}"
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            params = {"wait": f"{min(left, MAX_WAIT_SECONDS):.3f}"}
            if status is not None:
                params["until"] = status
            answer = self._call(
                "GET", url, params=params, headers={"authorization": f"Bearer {self.token}"}
            )
            state = _event_state(answer.json())
            if status is not None and state.status == status:
                return state
            if status is None and state.status not in _IN_PROGRESS:
                return state
            if status is not None and state.status in _FINAL:
                raise WaitTimeout(
                    f"event {pl_id} ended {state.status}, never {status}"
                    + (f": {state.error}" if state.error else "")
                )
            if time.monotonic() >= deadline:
                wanted = status or "a final status"
                raise WaitTimeout(
                    f"event {pl_id} is still {state.status} after {timeout:g} s "
                    f"(waited for {wanted})"
                )

    def wait_for_message(
        self,
        *,
        to: str | None = None,
        subject: str | None = None,
        timeout: float = 10.0,
        status: str | None = None,
        **filters: str,
    ) -> CapturedMessage:
        """Wait until mid-sourcing captures a message to ``to`` (the whole address, any case)
        whose subject (or push title) contains ``subject``; return it in full.

        ``status`` (``sent``, ``failed``, ``ignored``…) waits for that delivery status; other
        keywords are filters of ``/api/v1/messages`` (``eventType``, ``channel``, ``q``…).
        Raises :class:`WaitTimeout` when none comes within ``timeout`` seconds.
        """
        params = dict(filters)
        if to is not None:
            params["recipient"] = to
        if subject is not None:
            params["subject"] = subject
        if status is not None:
            params["status"] = status
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.0, deadline - time.monotonic())
            params["wait"] = f"{min(left, MAX_WAIT_SECONDS):.3f}"
            page = self._call("GET", self.urls.mid + "/api/v1/messages", params=params).json()
            found = [m for m in page["messages"] if to is None or m["to"].lower() == to.lower()]
            if found:
                return self.message(int(found[-1]["id"]))  # the oldest match on the page
            if time.monotonic() >= deadline:
                wanted = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "wait")
                raise WaitTimeout(f"no message captured with {wanted} within {timeout:g} s")
            if page["total"]:
                time.sleep(0.1)  # only a longer address matched: look again shortly

    def message(self, message_id: int) -> CapturedMessage:
        """Return one captured message in full."""
        answer = self._call("GET", f"{self.urls.mid}/api/v1/messages/{message_id}")
        return CapturedMessage.from_api(answer.json())

    def messages(self, **filters: str) -> list[dict[str, Any]]:
        """Return the captured messages matching ``filters`` (newest first, summaries)."""
        page = self._call("GET", self.urls.mid + "/api/v1/messages", params=filters).json()
        return list(page["messages"])

    # -- chaos and reset ----------------------------------------------------------------------
    @contextmanager
    def chaos(
        self,
        channel: str = "email",
        *,
        probability: float = 1.0,
        failure_reason: int = 3,
        failure_type: str | None = None,
        latency_ms: int = 0,
    ) -> Iterator[None]:
        """Inject failures (and latency) on ``channel`` inside the ``with`` block; then put the
        chaos back as it was."""
        before = self._call("GET", self.urls.mid + "/api/v1/chaos").json()
        settings: dict[str, Any] = {
            "probability": probability,
            "failureReason": failure_reason,
            "latencyMs": latency_ms,
        }
        if failure_type is not None:
            settings["failureType"] = failure_type
        self._call("PUT", f"{self.urls.mid}/api/v1/chaos/{channel}", json=settings)
        try:
            yield
        finally:
            self._call("PUT", self.urls.mid + "/api/v1/chaos", json=before)

    def reset(self) -> None:
        """Forget every event, message, delivery log, quarantine, chaos and archived event of the
        stack; keep its configuration (templates, event types, operators…)."""
        body = self._admin("POST", "/api/v1/reset")
        if not body.get("complete"):
            failed = [
                f"{s['service']}: {s.get('error')}" for s in body["services"] if not s.get("ok")
            ]
            raise McsimCallError("the reset is incomplete: " + "; ".join(failed))
        self._types.clear()

    # -- the virtual clock ----------------------------------------------------------------------
    def now(self) -> datetime:
        """Return the stack's current time (real time unless the clock was moved)."""
        return self._clock(None)

    def advance_clock(self, by: str | timedelta) -> datetime:
        """Move every service's clock forward (``"2h"``, ``"1d 6h"`` or a timedelta): scheduled
        events become due, retries, quarantines and sessions end, purges run. Return the new
        time."""
        spec = f"{by.total_seconds()}" if isinstance(by, timedelta) else by
        return self._clock({"advance": spec})

    def set_clock(self, to: datetime) -> datetime:
        """Make ``to`` (aware, not before real time) the stack's current time."""
        return self._clock({"to": to.isoformat()})

    def reset_clock(self) -> datetime:
        """Put every service back on real time (a reset does it too)."""
        return self._clock({"reset": True})

    def _clock(self, change: dict[str, Any] | None) -> datetime:
        body = self._admin("GET" if change is None else "POST", "/api/v1/clock", json=change)
        if not body.get("inStep"):
            behind = [
                f"{s['service']}: {s.get('error') or s.get('offsetSeconds')}"
                for s in body["services"]
                if not s.get("ok") or s.get("offsetSeconds") != body.get("offsetSeconds")
            ]
            raise McsimCallError("the services' clocks disagree: " + "; ".join(behind))
        return datetime.fromisoformat(str(body["now"]))

    # -- plumbing -----------------------------------------------------------------------------
    def _admin(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        """Call the control API as the admin; log in again once when the token expired (the
        clock may have moved past it)."""
        for attempt in (1, 2):
            headers = {"authorization": f"Bearer {self._login()}"}
            try:
                answer = self._call(method, self.urls.control + path, headers=headers, **options)
            except McsimCallError as exc:
                if attempt == 1 and exc.status == 401:
                    self._admin_token = None
                    continue
                raise
            body: dict[str, Any] = answer.json()
            return body
        raise AssertionError("unreachable")

    def _login(self) -> str:
        if self._admin_token is None:
            login, password = self.admin
            answer = self._call(
                "POST",
                self.urls.control + "/api/v1/auth/login",
                json={"login": login, "password": password},
            )
            self._admin_token = str(answer.json()["access_token"])
        return self._admin_token

    def _events_url(self, event_type: str) -> str:
        org = self.organization
        return f"{self.urls.lb}/{org}/campaign/mc{org}/EVT{event_type}"

    def _call(self, method: str, url: str, *, soap: bool = False, **options: Any) -> httpx.Response:
        try:
            answer = self.http.request(method, url, **options)
        except httpx.HTTPError as exc:
            raise McsimCallError(f"{method} {url}: cannot reach mcsim ({exc!r})") from None
        if answer.is_success:
            return answer
        if soap:
            raise McsimCallError(f"{method} {url}: SOAP fault: {_fault(answer.content)}")
        try:
            body = answer.json()
            text = str(body.get("message", body))
            if body.get("detail"):
                text += f" ({body['detail']})"
        except ValueError:
            text = answer.text[:300]
        raise McsimCallError(
            f"{method} {url}: HTTP {answer.status_code}: {text}", status=answer.status_code
        )


def _moment(value: datetime | str | None) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _event_state(body: Mapping[str, Any]) -> EventState:
    reason = body.get("failureReason")
    return EventState(
        pl_id=int(body["PKey"]),
        status=str(body["status"]),
        failure_reason=int(reason) if reason is not None else None,
        error=body.get("error"),
        raw=body,
    )


def _soap_value(content: bytes, name: str) -> str:
    root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False))
    for element in root.iter():
        if isinstance(element.tag, str) and etree.QName(element).localname == name:
            return (element.text or "").strip()
    raise McsimCallError(f"the SOAP answer has no {name}: {content[:300]!r}")


def _fault(content: bytes) -> str:
    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return content[:300].decode(errors="replace")
    parts: Sequence[str] = [
        (element.text or "").strip()
        for element in root.iter()
        if isinstance(element.tag, str)
        and etree.QName(element).localname in {"faultstring", "detail"}
    ]
    return " — ".join(part for part in parts if part)
