"""How an SMS travels: its encoding (GSM-7 or UCS-2) and how many segments it takes.

A text whose every character is in the GSM 03.38 alphabet is sent in GSM-7: 160 characters
in one message, 153 per segment once it is split (the rest of each segment carries the
concatenation header); the characters of the extension table (``^{}\\[~]|€`` and form feed)
take two. Any other character makes the whole text UCS-2: 70 UTF-16 code units in one
message, 67 per segment (an emoji takes two units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SmsParts", "sms_parts"]

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True)
class SmsParts:
    """The encoding of a text, its length in that encoding's units, and its segments."""

    encoding: str
    units: int
    segments: int
    per_segment: int


def sms_parts(text: str) -> SmsParts:
    """Return how ``text`` is sent as an SMS: GSM-7 when it can be, else UCS-2."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text):
        units = sum(2 if c in _GSM_EXTENSION else 1 for c in text)
        single, split, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, split, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SmsParts(encoding, units, 1 if units else 0, single)
    return SmsParts(encoding, units, math.ceil(units / split), split)
