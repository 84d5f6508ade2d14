"""An email's HTML as source to read: highlighted pieces, and the links it holds with their risks.

Both only read the HTML (it is hostile input): the pieces are shown as text by the page's
autoescaping, each with a kind for its colour; links are found by lxml's HTML parser, never
followed (the mailbox asks nothing of the sites an email names).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html
from lxml import etree

__all__ = ["Link", "highlight", "links"]

# A comment, a tag (with its attributes), or text up to the next "<".
_PIECES = re.compile(r"(<!--.*?(?:-->|$))|(<[!/?]?[A-Za-z][^>]*>?)|([^<]+|<)", re.DOTALL)
_ATTRIBUTE = re.compile(r"""([^\s=/>]+)(\s*=\s*(?:"[^"]*"?|'[^']*'?|[^\s>]*))?""")
_NAME = re.compile(r"^<[!/?]?[A-Za-z][^\s/>]*")


def highlight(html: str) -> list[tuple[str, str]]:
    """Return ``html`` cut into (kind, text) pieces: tag, attr, value, comment or text."""
    pieces: list[tuple[str, str]] = []
    for comment, tag, text in _PIECES.findall(html):
        if comment:
            pieces.append(("comment", comment))
        elif tag:
            name = _NAME.match(tag)
            head = name.group(0) if name else tag
            pieces.append(("tag", head))
            rest = tag[len(head) :]
            position = 0
            for match in _ATTRIBUTE.finditer(rest):
                if match.start() > position:
                    pieces.append(("tag", rest[position : match.start()]))
                pieces.append(("attr", match.group(1)))
                if match.group(2):
                    pieces.append(("value", match.group(2)))
                position = match.end()
            if position < len(rest):
                pieces.append(("tag", rest[position:]))
        else:
            pieces.append(("text", text))
    return pieces


@dataclass(frozen=True)
class Link:
    """A link of the email: where it goes, its text, and what may be wrong with it."""

    url: str
    text: str
    problems: tuple[str, ...]


def _problems(url: str) -> tuple[str, ...]:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if not url:
        return ("empty link",)
    if scheme == "javascript":
        return ("runs script: mail clients refuse it",)
    if scheme == "http":
        return ("not https",)
    if url.startswith("#"):
        return ("a link inside the message",)
    if scheme not in ("https", "mailto", "tel", "sms"):
        return ("not a web address: mail clients may not open it",)
    if "<%" in url or "%>" in url:
        return ("personalization left in it",)
    return ()


def links(html: str) -> list[Link]:
    """Return the links (``<a href>``) of an email's HTML, in order."""
    if not html.strip():
        return []
    try:
        root = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return []
    found = []
    for anchor in root.iter("a"):
        url = (anchor.get("href") or "").strip()
        if anchor.get("href") is None:
            continue
        text = " ".join("".join(str(part) for part in anchor.itertext()).split())
        found.append(Link(url=url, text=text, problems=_problems(url)))
    return found
