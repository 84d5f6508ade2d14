"""The wire format between execution instances and the mid-sourcing server (an emulator choice).

Campaign documents ``nms:delivery#AppendDeliveryPart(sessiontoken, deliveryPart, retry)`` but not
the content of a delivery part, nor how delivery logs come back. mcsim uses these documents:

```xml
<deliveryPart id="exec1-…" instance="1" queue="rt">
  <message id="1-5f0c2a9e-8030" eventId="72057594037935966" eventType="PASSWORD_RESET"
           channel="email" to="ann@example.com" templateVersion="3" proof="false">
    <from name="Acme" address="noreply@acme.test"/><replyTo>help@acme.test</replyTo>
    <subject>…</subject><text>…</text><html>…</html>
  </message>
  <message … channel="sms" to="+447700900123"><text>…</text></message>
  <message … channel="ios" to="<device token>" app="com.acme.app">
    <title>…</title><text>the push body</text><data>{"json": "object"}</data>
  </message>
</deliveryPart>

<deliveryLogs>
  <log seq="42" messageId="1-5f0c2a9e-8030" eventId="72057594037935966" status="sent"
       failureType="" failureReason="0" text="250 OK" at="2026-11-28 10:00:00.000Z" tries="1"/>
</deliveryLogs>
```

Message ids are unique across the cell (``<instance>-<database epoch>-<event pk>``, the epoch a
random tag made when the instance's database is created): the mid-sourcing server accepts
a message id once, so a part sent again after a crash or a timeout never duplicates a message.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lxml import etree

from services.clock import utc_now
from services.xtk import format_xtk

__all__ = [
    "CHANNELS",
    "MESSAGE_LIMITS",
    "XML_ILLEGAL",
    "DeliveryLog",
    "DeliveryMessage",
    "DeliveryPart",
    "FailureType",
    "LogStatus",
    "message_problem",
    "parse_delivery_logs",
    "parse_delivery_part",
    "render_delivery_logs",
    "render_delivery_part",
]

log = logging.getLogger("mcsim.delivery_protocol")

#: One character XML 1.0 cannot carry, not even as a character reference (C0 controls other
#: than tab, newline and carriage return; lone surrogates; U+FFFE and U+FFFF): lxml refuses to
#: put it in a part, and no XML parser would read it back. (Spelled out rather than as the
#: complement of XML's Char production: the same set, searched about 30% faster.)
XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
CHANNELS = frozenset({"email", "sms", "ios", "android"})
#: The mid-sourcing server's limits on a message's fields (midsourcing/parts/service.py).
MESSAGE_LIMITS = {"id": 255, "event_type": 64, "app": 255}
_TEXT_FIELDS = (
    "id",
    "event_type",
    "to",
    "text",
    "subject",
    "html",
    "from_name",
    "from_address",
    "reply_to",
    "title",
    "app",
    "data",
)


class LogStatus(enum.StrEnum):
    """Broadlog statuses the mid-sourcing server reports."""

    PENDING = "pending"  # accepted, not final yet (for example a soft bounce being retried)
    SENT = "sent"
    FAILED = "failed"
    IGNORED = "ignored"

    @property
    def final(self) -> bool:
        """Return whether nothing will change after this status."""
        return self is not LogStatus.PENDING


class FailureType(enum.StrEnum):
    """Campaign's failure types (campaign-facts §5.6)."""

    NONE = ""
    HARD = "hard"
    SOFT = "soft"
    IGNORED = "ignored"


@dataclass(frozen=True)
class DeliveryMessage:
    """One personalised message for one recipient."""

    id: str
    event_id: int
    event_type: str
    channel: str  # email, sms, ios, android
    to: str
    text: str = ""
    subject: str = ""
    html: str = ""
    from_name: str = ""
    from_address: str = ""
    reply_to: str = ""
    title: str = ""
    app: str = ""
    data: str = ""  # push custom data, a JSON object as text
    template_version: int = 0
    proof: bool = False


@dataclass(frozen=True)
class DeliveryPart:
    """A group of messages handed to mid-sourcing in one call."""

    id: str
    instance: int
    queue: str
    messages: list[DeliveryMessage] = field(default_factory=list)


@dataclass(frozen=True)
class DeliveryLog:
    """What happened to one message."""

    seq: int
    message_id: str
    event_id: int
    status: LogStatus
    failure_type: FailureType = FailureType.NONE
    failure_reason: int = 0
    text: str = ""
    at: datetime = field(default_factory=lambda: utc_now())
    tries: int = 1


def message_problem(message: DeliveryMessage) -> str | None:
    """Return why ``message`` cannot join a delivery part (None: it can).

    The checks are those of :func:`render_delivery_part` (XML cannot carry every character) and
    of the mid-sourcing server, which refuses a whole part for one malformed message: a sender
    checks each message on its own before it joins a part.
    """
    if not message.id.strip():
        return "the message has no id"
    if message.channel not in CHANNELS:
        return f"unknown channel {message.channel!r}"
    if not message.to.strip():
        return f"no recipient: the {message.channel} address is empty"
    for name, limit in MESSAGE_LIMITS.items():
        if len(getattr(message, name)) > limit:
            return f"its {name} is longer than {limit} characters"
    if not -(2**63) <= message.event_id < 2**63:
        return "its event id does not fit a 64-bit id"
    for name in _TEXT_FIELDS:
        value: str = getattr(message, name)
        if value and (found := XML_ILLEGAL.search(value)) is not None:
            return (
                f"its {name} holds U+{ord(found.group()):04X} at position {found.start()}, "
                "a character XML cannot carry"
            )
    return None


def _children(parent: etree._Element) -> dict[str, etree._Element]:
    """Return the first child element of each local name (in any namespace: a document inside
    a SOAP method element inherits its default namespace), in one pass over the children."""
    found: dict[str, etree._Element] = {}
    for child in parent:
        tag = child.tag
        if isinstance(tag, str):
            found.setdefault(tag.rpartition("}")[2], child)
    return found


def _text_of(element: etree._Element | None) -> str:
    if element is None:
        return ""
    if len(element) == 0:  # text only, the usual case
        return element.text or ""
    return "".join(str(t) for t in element.itertext())


def _set_child(parent: etree._Element, name: str, value: str) -> None:
    if value:
        etree.SubElement(parent, name).text = value


def render_delivery_part(part: DeliveryPart) -> etree._Element:
    """Return the ``<deliveryPart>`` element of ``part``."""
    root = etree.Element("deliveryPart", id=part.id, instance=str(part.instance), queue=part.queue)
    for message in part.messages:
        element = etree.SubElement(
            root,
            "message",
            id=message.id,
            eventId=str(message.event_id),
            eventType=message.event_type,
            channel=message.channel,
            to=message.to,
            templateVersion=str(message.template_version),
            proof="true" if message.proof else "false",
        )
        if message.app:
            element.set("app", message.app)
        if message.from_address or message.from_name:
            etree.SubElement(element, "from", name=message.from_name, address=message.from_address)
        _set_child(element, "replyTo", message.reply_to)
        _set_child(element, "subject", message.subject)
        _set_child(element, "title", message.title)
        _set_child(element, "text", message.text)
        _set_child(element, "html", message.html)
        _set_child(element, "data", message.data)
    return root


def parse_delivery_part(root: etree._Element) -> DeliveryPart:
    """Return the DeliveryPart of a ``<deliveryPart>`` element; raise ValueError when malformed."""
    if etree.QName(root).localname != "deliveryPart":
        raise ValueError(f"expected <deliveryPart>, got <{etree.QName(root).localname}>")
    part_id = root.get("id", "").strip()
    if not part_id:
        raise ValueError("the delivery part has no id")
    messages = []
    for index, element in enumerate(root.iter("{*}message")):
        message_id = element.get("id", "").strip()
        to = element.get("to", "").strip()
        channel = element.get("channel", "").strip()
        if not message_id or not to or channel not in CHANNELS:
            raise ValueError(f"message {index}: id, to and a known channel are required")
        children = _children(element)
        sender = children.get("from")
        messages.append(
            DeliveryMessage(
                id=message_id,
                event_id=int(element.get("eventId", "0") or 0),
                event_type=element.get("eventType", ""),
                channel=channel,
                to=to,
                text=_text_of(children.get("text")),
                subject=_text_of(children.get("subject")),
                html=_text_of(children.get("html")),
                from_name=sender.get("name", "") if sender is not None else "",
                from_address=sender.get("address", "") if sender is not None else "",
                reply_to=_text_of(children.get("replyTo")),
                title=_text_of(children.get("title")),
                app=element.get("app", ""),
                data=_text_of(children.get("data")),
                template_version=int(element.get("templateVersion", "0") or 0),
                proof=element.get("proof") == "true",
            )
        )
    return DeliveryPart(
        id=part_id,
        instance=int(root.get("instance", "0") or 0),
        queue=root.get("queue", "rt"),
        messages=messages,
    )


def render_delivery_logs(logs: list[DeliveryLog]) -> etree._Element:
    """Return the ``<deliveryLogs>`` element for ``logs``."""
    root = etree.Element("deliveryLogs")
    for log in logs:
        etree.SubElement(
            root,
            "log",
            seq=str(log.seq),
            messageId=log.message_id,
            eventId=str(log.event_id),
            status=log.status.value,
            failureType=log.failure_type.value,
            failureReason=str(log.failure_reason),
            text=log.text,
            at=format_xtk(log.at),
            tries=str(log.tries),
        )
    return root


_XTK = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{1,6}Z")


def _parse_xtk(text: str) -> datetime:
    # fromisoformat is ~10x faster than strptime; the pattern keeps strptime's strictness.
    if not _XTK.fullmatch(text):
        raise ValueError(f"time data {text!r} is not an XTK datetime (2026-11-28 10:00:00.000Z)")
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)


def parse_delivery_logs(root: etree._Element) -> list[DeliveryLog]:
    """Return the logs of a ``<deliveryLogs>`` element, leaving out those that cannot be read.

    A log needs a readable ``eventId`` and ``status``; other unreadable attributes take their
    defaults. An unreadable log is logged and left out, never raised: the reader's cursor must
    move past it, or one bad log would hold back every log after it.
    """
    logs = []
    for element in root.iter("{*}log"):
        try:
            logs.append(_parse_log(element))
        except ValueError as exc:
            log.warning(
                "unreadable delivery log left out",
                extra={
                    "seq": element.get("seq"),
                    "message_id": element.get("messageId"),
                    "event_id": element.get("eventId"),
                    "error": str(exc),
                },
            )
    return logs


def _parse_log(element: etree._Element) -> DeliveryLog:
    """Return one log; raise ValueError when its event id or status cannot be read."""
    try:
        at = _parse_xtk(element.get("at", ""))
    except ValueError:
        at = utc_now()
    try:
        failure_type = FailureType(element.get("failureType", ""))
    except ValueError:
        failure_type = FailureType.NONE
    return DeliveryLog(
        seq=_int_or(element.get("seq"), 0),
        message_id=element.get("messageId", ""),
        event_id=int(element.get("eventId", "")),
        status=LogStatus(element.get("status", "pending")),
        failure_type=failure_type,
        failure_reason=_int_or(element.get("failureReason"), 0),
        text=element.get("text", ""),
        at=at,
        tries=_int_or(element.get("tries"), 1),
    )


def _int_or(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default
