"""The mailbox's compatibility check of an email's HTML against common mail clients."""

from __future__ import annotations

import pytest

from midsourcing.mailbox.compatibility import (
    GMAIL,
    OUTLOOK,
    RULES,
    Finding,
    check_compatibility,
)


def _features(html: str) -> dict[str, Finding]:
    return {finding.feature: finding for finding in check_compatibility(html)}


def test_a_plain_table_email_with_inline_css_has_nothing_to_report() -> None:
    html = (
        "<html><head><style>td { color: #333; }</style></head><body>"
        '<table role="presentation"><tr><td style="padding: 8px; display: block">'
        '<a href="https://shop.test/">Shop</a><img src="https://shop.test/a.png" alt=""></td></tr>'
        "</table></body></html>"
    )
    assert check_compatibility(html) == []


@pytest.mark.parametrize(
    ("html", "feature", "example"),
    [
        ("<p>Hi</p><script>alert(1)</script>", "<script>", "<script>"),
        (
            '<form action="https://x.test/"><input></form>',
            "<form>",
            '<form action="https://x.test/">',
        ),
        ('<video src="a.mp4"></video>', "<video> or <audio>", '<video src="a.mp4">'),
        ('<iframe src="https://x.test/"></iframe>', "<iframe>, <object> or <embed>", None),
        ('<svg width="10"><circle r="4"/></svg>', "SVG", '<svg width="10">'),
        (
            '<head><link rel="stylesheet" href="https://x.test/a.css"></head><p>x</p>',
            "External stylesheet (<link rel=stylesheet>)",
            '<link href="https://x.test/a.css">',
        ),
        ("<style>@import url(a.css);</style>", "@import of a stylesheet", "@import url(a.css)"),
        ("<p>x</p><style>p { color: red }</style>", "<style> in the body", "<style>"),
        ('<div style="display:flex">x</div>', "CSS display: flex", "display:flex"),
        ("<style>.a { display: inline-grid }</style>", "CSS display: grid", "display: inline-grid"),
        ('<div style="position: absolute; top: 0">x</div>', "CSS position", "position: absolute"),
        (
            "<style>:root { --brand: red } a { color: var(--brand) }</style>",
            "CSS variables (custom properties)",
            "--brand:",
        ),
        (
            '<td style="background-image: url(https://x.test/b.png)">x</td>',
            "CSS background-image",
            "background-image: url(https://x.test/b.png)",
        ),
        ("<style>@font-face { font-family: X }</style>", "Web fonts (@font-face)", "@font-face"),
    ],
)
def test_each_rule_finds_its_feature(html: str, feature: str, example: str | None) -> None:
    found = _features(html)
    assert feature in found, found
    if example is not None:
        assert found[feature].example == example
    assert found[feature].clients and found[feature].advice


def test_a_finding_counts_every_use_and_names_the_clients() -> None:
    html = (
        '<div style="display:flex"><p style="display: flex">a</p></div>'
        "<style>b{display:flex}</style>"
    )
    flex = _features(html)["CSS display: flex"]
    assert flex.count == 3
    assert OUTLOOK in flex.clients and GMAIL not in flex.clients


def test_a_style_in_the_head_and_harmless_look_alikes_are_not_reported() -> None:
    html = (
        "<html><head><style>.x { background-color: #fff; }</style></head><body>"
        '<p style="text-position: x; display: flexible">position: absolute is text here</p>'
        '<link rel="icon" href="a.ico"></body></html>'
    )
    assert check_compatibility(html) == []


def test_empty_or_broken_html_reports_nothing_and_never_raises() -> None:
    for html in ("", "   ", "<", "<p", "\x00", "<!-- open"):
        assert check_compatibility(html) == []


def test_every_rule_names_its_clients_and_what_to_do() -> None:
    assert len({rule.feature for rule in RULES}) == len(RULES)
    assert all(rule.clients and rule.advice.endswith(".") for rule in RULES)
