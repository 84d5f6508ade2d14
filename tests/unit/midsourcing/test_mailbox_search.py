"""The mailbox's search syntax, read into filters and free text."""

from __future__ import annotations

import pytest

from midsourcing.mailbox.search import Search, parse_search


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", Search()),
        ("ann@example.com", Search(text="ann@example.com")),
        ("to:ann", Search({"recipient": "ann"})),
        ('subject:"your order" bob', Search({"subject": "your order"}, "bob")),
        (
            "type:PASSWORD_RESET status:failed channel:sms",
            Search({"event_type": "PASSWORD_RESET", "status": "failed", "channel": "sms"}),
        ),
        ("is:proof", Search({"proof": "yes"})),
        ("-is:proof reset", Search({"proof": "no"}, "reset")),
        (
            "after:2026-12-01 before:2026-12-02T09:30",
            Search({"since": "2026-12-01", "until": "2026-12-02T09:30"}),
        ),
        ("TO:Ann Subject:Hi", Search({"recipient": "Ann", "subject": "Hi"})),
        ("url:https://x.test 7205", Search(text="url:https://x.test 7205")),
        ('"two words"', Search(text="two words")),
        ("to:", Search(text="to:")),
    ],
)
def test_search_words(query: str, expected: Search) -> None:
    assert parse_search(query) == expected
