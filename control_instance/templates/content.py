"""Channels and the content fields of each, and how a template's content is checked."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping

from services.errors import InvalidRequest
from services.personalization import CompiledFields, compile_fields

__all__ = [
    "CHANNEL_FIELDS",
    "ChannelName",
    "compile_content",
    "decode",
    "encode",
    "normalize",
]


class ChannelName(enum.StrEnum):
    """A template's channel, by name, with Campaign's ``messageType`` number."""

    EMAIL = "email"
    SMS = "sms"
    IOS = "ios"
    ANDROID = "android"

    @property
    def code(self) -> int:
        """Return the channel's number (wishedChannel): 0, 1, 41 or 42."""
        return {"email": 0, "sms": 1, "ios": 41, "android": 42}[self.value]

    @classmethod
    def of(cls, code: int) -> ChannelName:
        """Return the channel of a number."""
        return next(channel for channel in cls if channel.code == code)

    @property
    def is_push(self) -> bool:
        """Return whether this is a push channel."""
        return self in (ChannelName.IOS, ChannelName.ANDROID)


#: The fields of each channel, in the order the execution instance's /_mc/ API names them.
CHANNEL_FIELDS: dict[ChannelName, tuple[str, ...]] = {
    ChannelName.EMAIL: ("from_name", "from_address", "reply_to", "subject", "html", "text"),
    ChannelName.SMS: ("text",),
    ChannelName.IOS: ("title", "body", "data"),
    ChannelName.ANDROID: ("title", "body", "data"),
}


def normalize(channel: ChannelName, content: Mapping[str, str]) -> dict[str, str]:
    """Return every field of the channel (missing ones empty); refuse unknown fields."""
    allowed = CHANNEL_FIELDS[channel]
    unknown = sorted(set(content) - set(allowed))
    if unknown:
        raise InvalidRequest(
            f"unknown field(s) {', '.join(unknown)} for the {channel.value} channel",
            detail=f"the {channel.value} channel has: {', '.join(allowed)}",
            field="content",
        )
    return {key: str(content.get(key, "")) for key in allowed}


def compile_content(name: str, channel: ChannelName, content: Mapping[str, str]) -> CompiledFields:
    """Compile every field; a syntax error names the field and its line (HTTP 400)."""
    return compile_fields(normalize(channel, content), name=name)


def encode(content: Mapping[str, str]) -> str:
    """Return the stored form of a content."""
    return json.dumps(dict(content), sort_keys=True, ensure_ascii=False)


def decode(text: str) -> dict[str, str]:
    """Return a stored content."""
    value = json.loads(text)
    return {str(key): str(item) for key, item in value.items()}
