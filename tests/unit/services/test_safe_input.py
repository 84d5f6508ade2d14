"""The edge types of services.safe_input agree with lxml and SQLite's limits (review F7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from services.errors import InvalidRequest
from services.safe_input import (
    MAX_INT64,
    SEARCH_MAX_LENGTH,
    ascii_digits,
    require_xml_text,
    xml_compatible,
)


@given(st.text())
def test_text_the_validator_accepts_goes_into_xml(text: str) -> None:
    try:
        xml_compatible(text)
    except ValueError:
        return
    element = etree.Element("e", a=text)
    element.text = text
    assert etree.fromstring(etree.tostring(element)).get("a") == text


@pytest.mark.parametrize("bad", ["\x00", "a\x01", "\x0b", "\x1f", "\ud800", "\ufffe", "\uffff"])
def test_characters_xml_cannot_carry_are_refused_with_their_field(bad: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        require_xml_text(bad, field="externalId")
    assert refused.value.field == "externalId"
    assert refused.value.status_code == 400


def test_tabs_newlines_and_astral_characters_are_text() -> None:
    assert require_xml_text("a\tb\nc\rd 😀 é", field="x") == "a\tb\nc\rd 😀 é"


def test_the_limits_fit_sqlite() -> None:
    assert MAX_INT64 == 9_223_372_036_854_775_807
    # Escaped (2 bytes) or 4-byte UTF-8 characters, plus the two wildcards of a LIKE search.
    assert SEARCH_MAX_LENGTH * 4 + 2 <= 50_000


@given(st.text(max_size=12))
def test_what_ascii_digits_accepts_int_reads(value: str) -> None:
    if ascii_digits(value):
        assert int(value) >= 0
    else:
        assert not value or not all(c in "0123456789" for c in value)


def test_digits_int_refuses_are_not_ascii_digits() -> None:
    assert "²".isdigit() and not ascii_digits("²")
    assert not ascii_digits("٣") and not ascii_digits("")
    assert ascii_digits("0123")
