"""Read and validate one event document (``<rtEvent>`` / ``<batchEvent>``) into an EventIn."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from lxml import etree

from execution_instance.intake.channels import Channel, Queue
from execution_instance.intake.dates import parse_wire_date
from services.errors import InvalidRequest, PayloadTooLarge

__all__ = ["EventIn", "EventLimits", "read_event", "read_event_collection"]

_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]{1,64}@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_PUSH_TOKEN_ATTRIBUTES = ("registrationToken", "registrationId", "deviceToken")
_EVENT_ELEMENTS = frozenset({"rtEvent", "batchEvent"})
#: Adobe's JS SDK names an event after the parameter it travels in: nmsBatchEvent.pushEvent({…})
#: sends <domEvent>. It is stored under the queue's own name (<batchEvent>, <rtEvent>).
_PARAMETER_ELEMENT = "domEvent"
_EVENT_OR_PARAMETER = _EVENT_ELEMENTS | {_PARAMETER_ELEMENT}
# wishedChannel as clients send it: the numbers, read without Channel.parse's work.
_CHANNELS = {str(channel.value): channel for channel in Channel}


@dataclass(frozen=True)
class EventLimits:
    """Size limits on events (settings)."""

    max_ctx_bytes: int = 64 * 1024
    max_events_per_call: int = 1000


@dataclass(slots=True)  # not frozen: a frozen init costs PushEvents(100) ~10 % of its loop time
class EventIn:
    """A validated event, ready to be stored (treat it as immutable)."""

    queue: Queue
    event_type: str
    channel: Channel
    email: str | None
    mobile_phone: str | None
    push_token: str | None
    mobile_app: str | None
    external_id: str | None
    origin: str | None
    language: str | None
    country: str | None
    email_format: int
    scheduled: datetime | None
    expiration: datetime | None
    document: str


def _where(index: int | None) -> str:
    return f"event {index}: " if index is not None else ""


def _fail(index: int | None, field: str, message: str) -> InvalidRequest:
    field_name = f"events[{index}].{field}" if index is not None else field
    return InvalidRequest(
        f"{_where(index)}{message}", detail=f"{_where(index)}{message}", field=field_name
    )


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _strip_namespaces(element: etree._Element) -> etree._Element:
    """Return a copy of ``element`` whose elements carry no namespace (clients forget xmlns="")."""
    copy = etree.fromstring(etree.tostring(element))
    for node in copy.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = etree.QName(node).localname
    etree.cleanup_namespaces(copy)
    return copy


def read_event(
    element: etree._Element,
    *,
    queue: Queue,
    known_types: Collection[str],
    limits: EventLimits,
    index: int | None = None,
) -> EventIn:
    """Validate one event element; raise InvalidRequest naming the attribute (and index)."""
    # Hot path (up to 1000 events a call): attributes are read once into a dict and the
    # children looked at in one pass; lxml's attribute proxy and find() cost more than this.
    tag = element.tag
    if tag not in _EVENT_ELEMENTS:
        name = _local(element)
        if name not in _EVENT_OR_PARAMETER:
            raise _fail(index, "element", f"<{name}> is not an event: expected <{queue.element}>")
        element = _strip_namespaces(element)
        if name == _PARAMETER_ELEMENT:
            element.tag = queue.element
    attrs = cast("dict[str, str]", dict(element.items()))  # str keys and values in lxml 5+
    texts = {key: stripped for key, value in attrs.items() if (stripped := value.strip())}

    event_type = texts.get("type")
    if event_type is None:
        raise _fail(index, "type", "the attribute 'type' (the event type) is missing")
    if event_type not in known_types:
        known = ", ".join(sorted(known_types)) or "none: publish a template first"
        raise _fail(
            index, "type", f"unknown event type {event_type!r} (known event types: {known})"
        )
    channel_text = attrs.get("wishedChannel", "0") or "0"
    channel = _CHANNELS.get(channel_text)
    if channel is None:
        try:
            channel = Channel.parse(channel_text)
        except ValueError as exc:
            raise _fail(index, "wishedChannel", str(exc)) from None

    email, phone = texts.get("email"), texts.get("mobilePhone")
    push_token = next((t for a in _PUSH_TOKEN_ATTRIBUTES if (t := texts.get(a))), None)
    app = ctx = None
    for child in element:
        if child.tag == "ctx":
            ctx = child if ctx is None else ctx
        elif child.tag == "mobileApp":
            app = child if app is None else app
    mobile_app = app.get("uuid", "").strip() or None if app is not None else None
    if email is not None and not _EMAIL.match(email):
        raise _fail(index, "email", f"the email address {email!r} is not valid")
    if phone is not None and not _E164.match(phone):
        raise _fail(
            index, "mobilePhone", f"the mobile phone {phone!r} is not in E.164 form (+447700900123)"
        )
    if channel is Channel.EMAIL and email is None:
        raise _fail(index, "email", "the attribute 'email' is required for the email channel")
    if channel is Channel.SMS and phone is None:
        raise _fail(index, "mobilePhone", "the attribute 'mobilePhone' is required for SMS")
    is_push = channel is Channel.IOS or channel is Channel.ANDROID
    if is_push and push_token is None:
        raise _fail(
            index,
            "registrationToken",
            "a push event needs the device: registrationToken, registrationId or deviceToken",
        )
    if is_push and mobile_app is None:
        raise _fail(index, "mobileApp", 'a push event needs <mobileApp uuid="…"/> (the app)')

    email_format_text = attrs.get("emailFormat", "0").strip() or "0"
    if email_format_text not in {"0", "1", "2"}:
        raise _fail(index, "emailFormat", f"emailFormat {email_format_text!r} must be 0, 1 or 2")

    dates: dict[str, datetime | None] = {"scheduled": None, "expiration": None}
    for attribute in dates:
        value = texts.get(attribute)
        if value:
            try:
                dates[attribute] = parse_wire_date(value)
            except ValueError as exc:
                raise _fail(index, attribute, f"{attribute}: {exc}") from None

    if ctx is None:
        raise _fail(index, "ctx", "the <ctx> element is missing (it may be empty: <ctx/>)")
    document = etree.tostring(element, encoding="unicode", with_tail=False)
    # The ctx is part of the document: measure it alone only when the whole could be too big.
    ctx_size = len(etree.tostring(ctx)) if len(document) * 4 > limits.max_ctx_bytes else 0
    if ctx_size > limits.max_ctx_bytes:
        error = PayloadTooLarge(
            f"{_where(index)}<ctx> is {ctx_size} bytes, above the limit of {limits.max_ctx_bytes}",
            field="ctx",
        )
        raise error
    return EventIn(
        queue=queue,
        event_type=event_type,
        channel=channel,
        email=email,
        mobile_phone=phone,
        push_token=push_token,
        mobile_app=mobile_app,
        external_id=texts.get("externalId"),
        origin=texts.get("origin"),
        language=texts.get("language"),
        country=texts.get("country"),
        email_format=int(email_format_text),
        scheduled=dates["scheduled"],
        expiration=dates["expiration"],
        document=document,
    )


def read_event_collection(
    parameter: etree._Element,
    *,
    queue: Queue,
    known_types: Collection[str],
    limits: EventLimits,
) -> list[EventIn]:
    """Validate every event of a ``domEventCollection`` (any wrapper name); all or nothing."""
    children: Sequence[etree._Element] = [c for c in parameter if isinstance(c.tag, str)]
    if len(children) == 1 and _local(children[0]) not in _EVENT_OR_PARAMETER:
        children = [c for c in children[0] if isinstance(c.tag, str)]  # the <Events> wrapper
    if not children:
        raise InvalidRequest("the event collection is empty", field="domEventCollection")
    if len(children) > limits.max_events_per_call:
        raise PayloadTooLarge(
            f"{len(children)} events in one call, above the limit of {limits.max_events_per_call}",
            field="domEventCollection",
        )
    return [
        read_event(child, queue=queue, known_types=known_types, limits=limits, index=index)
        for index, child in enumerate(children)
    ]
