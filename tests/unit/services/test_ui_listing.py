"""The list pages' filter helpers: chosen options and the pager's links."""

from __future__ import annotations

import pytest

from services.errors import InvalidRequest
from services.ui.listing import choice, pager_base


def test_choice_is_none_when_empty_and_the_value_when_offered() -> None:
    assert choice("", ("email", "sms"), "channel") is None
    assert choice("sms", ("email", "sms"), "channel") == "sms"


def test_choice_refuses_an_option_not_offered_and_names_the_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        choice("fax", ("email", "sms"), "channel")
    assert caught.value.message == "channel must be one of email, sms"
    assert caught.value.field == "channel"


def test_pager_base_keeps_only_the_filters_that_are_set() -> None:
    assert pager_base("/", {"q": "", "status": ""}) == "/?"
    assert pager_base("/quarantine", {"address": "a&b@x", "status": ""}) == (
        "/quarantine?address=a%26b%40x&"
    )
