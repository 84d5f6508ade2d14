"""Channels (``wishedChannel``, Campaign's messageType enumeration) and event statuses."""

from __future__ import annotations

import enum

from services.safe_input import ascii_digits

__all__ = ["Channel", "EventStatus", "Queue"]


class Channel(enum.IntEnum):
    """The channels of DESIGN §3.1 with their Campaign numbers."""

    EMAIL = 0
    SMS = 1
    IOS = 41
    ANDROID = 42

    @property
    def is_push(self) -> bool:
        """Return whether this is a push channel."""
        return self in (Channel.IOS, Channel.ANDROID)

    @classmethod
    def parse(cls, text: str) -> Channel:
        """Return the channel of a number (``41``) or a name (``ios``, ``sms``, ``mobile``).

        Campaign recommends numbers; names are accepted too, as some clients send them.
        """
        value = text.strip().lower()
        if ascii_digits(value) and int(value) in cls._value2member_map_:
            return cls(int(value))
        aliases = {"email": cls.EMAIL, "sms": cls.SMS, "mobile": cls.SMS, "ios": cls.IOS}
        aliases["android"] = cls.ANDROID
        if value in aliases:
            return aliases[value]
        raise ValueError(
            f"wishedChannel {text!r} is not a channel: use 0 (email), 1 (SMS), "
            "41 (iOS push) or 42 (Android push)"
        )


class Queue(enum.IntEnum):
    """The two event queues of an execution instance."""

    REALTIME = 0
    BATCH = 1

    @property
    def element(self) -> str:
        """Return the event element name of this queue."""
        return "rtEvent" if self is Queue.REALTIME else "batchEvent"

    @property
    def schema(self) -> str:
        """Return the Campaign schema of this queue."""
        return "nms:rtEvent" if self is Queue.REALTIME else "nms:batchEvent"


class EventStatus(enum.IntEnum):
    """Event statuses of DESIGN §3.5 (the numbers are an emulator choice)."""

    PENDING = 0
    PROCESSING = 1
    PROCESSED = 2
    IGNORED = 3
    DELIVERY_FAILED = 4
    ROUTING_FAILED = 5
    TOO_OLD = 6
    PAUSED = 7

    @property
    def rest_name(self) -> str:
        """Return the REST API's name of the status (``deliveryFailed``)."""
        head, *rest = self.name.lower().split("_")
        return head + "".join(part.title() for part in rest)

    @property
    def label(self) -> str:
        """Return the console label of the status (Campaign's wording)."""
        return _LABELS[self]


_LABELS = {
    EventStatus.PENDING: "Pending",
    EventStatus.PROCESSING: "Pending delivery",
    EventStatus.PROCESSED: "Sent",
    EventStatus.IGNORED: "Ignored",
    EventStatus.DELIVERY_FAILED: "Delivery failed",
    EventStatus.ROUTING_FAILED: "Event not covered",
    EventStatus.TOO_OLD: "Event expired",
    EventStatus.PAUSED: "Paused",
}
