"""The mailbox's view of an email's HTML: highlighted source and the links with their risks."""

from __future__ import annotations

from midsourcing.mailbox.html_source import Link, highlight, links


def test_the_pieces_give_the_source_back_and_name_tags_attributes_and_values() -> None:
    html = '<!-- hi --><p class="a" hidden>Hello <b>Ann</b> & co</p><br/>'
    pieces = highlight(html)
    assert "".join(text for _, text in pieces) == html
    assert ("comment", "<!-- hi -->") in pieces
    assert ("tag", "<p") in pieces and ("attr", "class") in pieces
    assert ("value", '="a"') in pieces and ("attr", "hidden") in pieces
    assert ("text", "Hello ") in pieces and ("tag", "</b") in pieces


def test_broken_html_is_still_given_back_whole() -> None:
    for html in ("<p class='x", "a < b", "<!-- open", "<", "<a href=x>"):
        assert "".join(text for _, text in highlight(html)) == html


def test_links_and_what_is_wrong_with_them() -> None:
    html = (
        '<a href="https://shop.test/reset?t=1">Reset</a>'
        '<a href="http://shop.test/">Shop <b>now</b></a>'
        '<a href="javascript:alert(1)">x</a>'
        '<a href="">empty</a><a href="mailto:help@shop.test">Help</a><a name="top">no href</a>'
    )
    assert links(html) == [
        Link("https://shop.test/reset?t=1", "Reset", ()),
        Link("http://shop.test/", "Shop now", ("not https",)),
        Link("javascript:alert(1)", "x", ("runs script: mail clients refuse it",)),
        Link("", "empty", ("empty link",)),
        Link("mailto:help@shop.test", "Help", ()),
    ]
    assert links("") == [] and links("just text") == []
