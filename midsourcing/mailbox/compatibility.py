"""An email's HTML checked against what common mail clients support (the mailbox's tab).

The rules are a small table of our own, their facts taken from caniemail.com (December 2026):
each names an HTML element or CSS feature, the clients that drop or ignore it, and what to use
instead. The HTML is hostile input: it is only parsed (lxml) and searched, never rendered here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import lxml.html
from lxml import etree

__all__ = ["RULES", "Finding", "Rule", "check_compatibility"]

GMAIL = "Gmail"
GMAIL_OTHER = "Gmail with non-Google accounts"
OUTLOOK = "Outlook for Windows"
OUTLOOK_COM = "Outlook.com"
YAHOO = "Yahoo Mail"
EVERY = "every common mail client"
#: The webmails and Outlook, which drop most of what is not plain HTML and inline CSS.
_WEBMAILS = (GMAIL, OUTLOOK, OUTLOOK_COM, YAHOO)


@dataclass(frozen=True)
class _Email:
    """The parsed email: its tree, and its CSS (``<style>`` blocks and ``style`` attributes)."""

    root: etree._Element
    css: list[str]


#: What a rule finds in an email: how many times, and the first place, as text.
Found = tuple[int, str]


@dataclass(frozen=True)
class Rule:
    """A feature that some mail clients do not support."""

    feature: str
    clients: tuple[str, ...]
    advice: str
    find: Callable[[_Email], Found]


@dataclass(frozen=True)
class Finding:
    """A feature the email uses that some mail clients do not support."""

    feature: str
    clients: tuple[str, ...]
    advice: str
    count: int
    example: str


def _shorten(text: str, most: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 1] + "…"


def _elements(*tags: str, where: str = "") -> Callable[[_Email], Found]:
    """Find the elements named ``tags`` (inside ``where`` when given)."""

    def find(email: _Email) -> Found:
        found = [
            element
            for element in email.root.iter(*tags)
            if not where or any(a.tag == where for a in element.iterancestors())
        ]
        if not found:
            return 0, ""
        first = found[0]
        attributes = "".join(f' {k!s}="{v!s}"' for k, v in list(first.attrib.items())[:2])
        return len(found), _shorten(f"<{first.tag!s}{attributes}>")

    return find


def _css(pattern: str) -> Callable[[_Email], Found]:
    """Find ``pattern`` (a regular expression, any case) in the email's CSS."""
    compiled = re.compile(pattern, re.IGNORECASE)

    def find(email: _Email) -> Found:
        matches = [m for text in email.css for m in compiled.finditer(text)]
        return len(matches), _shorten(matches[0].group(0)) if matches else ""

    return find


def _stylesheets(email: _Email) -> Found:
    found = [
        link
        for link in email.root.iter("link")
        if "stylesheet" in (link.get("rel") or "").lower().split()
    ]
    return len(found), _shorten(f'<link href="{found[0].get("href", "")}">') if found else ""


RULES: tuple[Rule, ...] = (
    Rule("<script>", (EVERY,), "Mail clients never run script: remove it.", _elements("script")),
    Rule(
        "<form>",
        (OUTLOOK, OUTLOOK_COM, GMAIL, YAHOO),
        "Link to a page of the website instead (Gmail shows a form but does not send it).",
        _elements("form"),
    ),
    Rule(
        "<video> or <audio>",
        _WEBMAILS,
        "Show an image that links to the media (only Apple Mail plays it).",
        _elements("video", "audio"),
    ),
    Rule(
        "<iframe>, <object> or <embed>",
        (EVERY,),
        "Mail clients remove embedded content: link to it.",
        _elements("iframe", "object", "embed"),
    ),
    Rule(
        "SVG",
        _WEBMAILS,
        "Use a PNG image (an <img> of an .svg fails in the same clients).",
        _elements("svg"),
    ),
    Rule(
        "External stylesheet (<link rel=stylesheet>)",
        _WEBMAILS,
        "Put the CSS in the email: inline style attributes, or <style> in <head>.",
        _stylesheets,
    ),
    Rule(
        "@import of a stylesheet",
        _WEBMAILS,
        "Put the CSS in the email itself.",
        _css(r"@import\b[^;]*"),
    ),
    Rule(
        "<style> in the body",
        (GMAIL_OTHER, YAHOO),
        "Move <style> into <head> (or inline the CSS).",
        _elements("style", where="body"),
    ),
    Rule(
        "CSS display: flex",
        (OUTLOOK, GMAIL_OTHER),
        "Lay out with tables (and inline-block where they allow it).",
        _css(r"display\s*:\s*(?:inline-)?flex\b"),
    ),
    Rule(
        "CSS display: grid",
        _WEBMAILS,
        "Lay out with tables.",
        _css(r"display\s*:\s*(?:inline-)?grid\b"),
    ),
    Rule(
        "CSS position",
        _WEBMAILS,
        "Gmail and Outlook drop it: place content with tables and padding.",
        _css(r"(?<![\w-])position\s*:\s*(?:absolute|fixed|relative|sticky)\b"),
    ),
    Rule(
        "CSS variables (custom properties)",
        _WEBMAILS,
        "Write the values themselves (a build step can resolve variables).",
        _css(r"var\(\s*--[\w-]+|(?<![\w-])--[\w-]+\s*:"),
    ),
    Rule(
        "CSS background-image",
        (OUTLOOK, GMAIL_OTHER),
        "Give a background colour as fallback (Outlook shows images only through VML).",
        _css(r"background(?:-image)?\s*:[^;}\"]*url\([^)]*\)?"),
    ),
    Rule(
        "Web fonts (@font-face)",
        _WEBMAILS,
        "Name a fallback font stack: the font is not loaded in these clients.",
        _css(r"@font-face"),
    ),
)


def _parse(html: str) -> _Email | None:
    try:
        root = lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    css = [style.text or "" for style in root.iter("style")]
    css += [
        element.get("style", "") for element in root.iter(etree.Element) if element.get("style")
    ]
    return _Email(root=root, css=css)


def check_compatibility(html: str) -> list[Finding]:
    """Return the features of ``html`` that common mail clients do not support, by rule."""
    email = _parse(html) if html.strip() else None
    if email is None:
        return []
    findings = []
    for rule in RULES:
        count, example = rule.find(email)
        if count:
            findings.append(
                Finding(rule.feature, rule.clients, rule.advice, count=count, example=example)
            )
    return findings
