"""MAIL FROM / RCPT TO written directly must say what aiosmtplib's mail() and rcpt() would."""

from __future__ import annotations

import pytest
from aiosmtplib.email import quote_address

from midsourcing.delivery.smtp import _PLAIN_ADDRESS

PLAIN = [
    "ann@example.com",
    "first.last@mail.example.co.uk",
    "o'brien+tag@example.com",
    "a!#$%&'*+/=?^_`{|}~-z@x-y.example",
    "user123@localhost",
]
NOT_PLAIN = [
    '"quoted local"@example.com',
    '"john.doe"@example.com',
    "double..dot@example.com",
    ".leading@example.com",
    "trailing.@example.com",
    "Ann <ann@example.com>",
    "ann@[127.0.0.1]",
    "ann@example..com",
    "no-at-sign",
    "zoé@example.com",
    "ann@example.com,bob@example.com",
    "ann@example.com\r\nRCPT TO:<evil@example.com>",
]


@pytest.mark.parametrize("address", PLAIN)
def test_a_plain_address_is_written_exactly_as_aiosmtplib_quotes_it(address: str) -> None:
    assert _PLAIN_ADDRESS.fullmatch(address)
    assert quote_address(address) == f"<{address}>"


@pytest.mark.parametrize("address", NOT_PLAIN)
def test_any_other_address_is_left_to_aiosmtplib(address: str) -> None:
    assert not _PLAIN_ADDRESS.fullmatch(address)
