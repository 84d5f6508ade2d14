"""The mailbox's SMS facts: encoding and segments, at the limits of each encoding."""

from __future__ import annotations

import pytest

from midsourcing.mailbox.sms import SmsParts, sms_parts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SmsParts("GSM-7", 0, 0, 160)),
        ("Your code is 1234", SmsParts("GSM-7", 17, 1, 160)),
        ("a" * 160, SmsParts("GSM-7", 160, 1, 160)),
        ("a" * 161, SmsParts("GSM-7", 161, 2, 153)),
        ("a" * 306, SmsParts("GSM-7", 306, 2, 153)),
        ("a" * 307, SmsParts("GSM-7", 307, 3, 153)),
        ("€" * 80, SmsParts("GSM-7", 160, 1, 160)),  # the extension table takes two
        ("€" * 81, SmsParts("GSM-7", 162, 2, 153)),
        ("Grüße, Ann", SmsParts("GSM-7", 10, 1, 160)),
        ("Привет", SmsParts("UCS-2", 6, 1, 70)),
        ("ç" * 70, SmsParts("UCS-2", 70, 1, 70)),  # lower-case ç is not in GSM 03.38
        ("ç" * 71, SmsParts("UCS-2", 71, 2, 67)),
        ("Hi 👋", SmsParts("UCS-2", 5, 1, 70)),  # an emoji is two UTF-16 units
    ],
)
def test_encoding_and_segments(text: str, expected: SmsParts) -> None:
    assert sms_parts(text) == expected
