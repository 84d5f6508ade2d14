"""Build the email of a message: multipart/alternative text + HTML, Campaign-like headers.

The document is a pure function of the stored message: the Date is when mid-sourcing accepted
it, the Message-ID and the MIME boundary derive from the message id. What the SMTP relay
received and what ``/api/v1/messages/{id}/raw`` shows are therefore the same bytes, on every
try. Headers that are not plain ASCII become RFC 2047 encoded words; bodies that are not plain
ASCII are quoted-printable: the message is 7-bit and needs no 8BITMIME. CR and LF never reach a
header value (no header injection from a template).

The bytes are written directly (about 30 µs a message) rather than through ``email.message``
(about 1.4 ms), which would cap a worker process at a few hundred messages a second.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import html as html_lib
import re
from datetime import UTC
from email.message import EmailMessage
from email.utils import format_datetime

from midsourcing.delivery.item import Outgoing

__all__ = ["build_email", "html_to_text", "message_id_header", "render_email"]

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/li|/tr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"\n\s*\n\s*\n+")
_SPACES = re.compile(r"[ \t]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
_ADDRESS = re.compile(r"[\x21-\x7e]+@[\x21-\x7e]+")
_LONG_LINE = re.compile(r"[^\n]{999}")
_ENCODED_CHUNK = 36  # bytes of UTF-8 per encoded word: 48 base64 characters + 12 of framing


def message_id_header(message_id: str, domain: str) -> str:
    """Return the Message-ID of a message: stable across tries, unique across the cell."""
    local = message_id if _SAFE_ID.fullmatch(message_id) else _digest(message_id, 32)
    return f"<mcsim.{local}@{domain}>"


def _digest(value: str, size: int) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:size]


def html_to_text(markup: str) -> str:
    """Return a readable plain-text version of an HTML body (for an HTML-only message)."""
    text = _BREAK.sub("\n", _DROP.sub("", markup))
    text = html_lib.unescape(_TAG.sub("", text))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip() + "\n"


def _one_line(value: str) -> str:
    return _CONTROL.sub(" ", value).strip()


def _encoded_words(value: str) -> str:
    """Return ``value`` as RFC 2047 encoded words, folded one word a line."""
    data = value.encode("utf-8", "replace")
    words: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + _ENCODED_CHUNK, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1  # never split a UTF-8 sequence between two words
        words.append("=?utf-8?b?" + base64.b64encode(data[start:end]).decode("ascii") + "?=")
        start = end
    return "\r\n ".join(words)


def _text_header(value: str) -> str:
    value = _one_line(value)
    if value.isascii() and len(value) <= 900 and "=?" not in value:
        return value
    return _encoded_words(value)


def _address(value: str) -> str:
    value = _one_line(value)
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not an ASCII email address")
    return value


def _mailbox(name: str, address: str) -> str:
    address = _address(address)
    name = _one_line(name)
    if not name:
        return address
    if name.isascii():
        if _ATOM_PHRASE.fullmatch(name):
            return f"{name} <{address}>"
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    return f"{_encoded_words(name)} <{address}>"


def _body(text: str, subtype: str) -> str:
    """Return the headers and content of one text part, 7-bit safe, CRLF line ends."""
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    if normalized.isascii() and not _LONG_LINE.search(normalized):
        encoding, content = "7bit", normalized
    else:
        encoding = "quoted-printable"
        content = binascii.b2a_qp(normalized.encode("utf-8"), istext=True).decode("ascii")
    if not content.endswith("\n"):
        content += "\n"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n" + content.replace("\n", "\r\n")
    )


def render_email(item: Outgoing, *, domain: str) -> bytes:
    """Return the email of ``item`` as the bytes sent over SMTP (raise ValueError if it can't)."""
    headers = [
        f"Message-ID: {message_id_header(item.message_id, domain)}",
        f"Date: {format_datetime(item.created_at.astimezone(UTC).replace(microsecond=0))}",
        f"From: {_mailbox(item.from_name, item.from_address or f'noreply@{domain}')}",
        f"To: {_address(item.recipient)}",
    ]
    if item.reply_to:
        headers.append(f"Reply-To: {_address(item.reply_to)}")
    headers += [
        f"Subject: {_text_header(item.subject)}",
        f"X-Mcsim-Event-Id: {item.event_id}",
        f"X-Mcsim-Event-Type: {_text_header(item.event_type)}",
        f"X-Mcsim-Message-Id: {_text_header(item.message_id)}",
    ]
    if item.proof:
        headers.append("X-Mcsim-Proof: true")
    headers.append("MIME-Version: 1.0")
    head = "\r\n".join(headers) + "\r\n"
    if not item.html:
        return (head + _body(item.text, "plain")).encode("ascii")
    boundary = "=_mcsim_" + _digest(item.message_id, 24)
    text = item.text or html_to_text(item.html)
    document = (
        f'{head}Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\n{_body(text, 'plain')}\r\n"
        f"--{boundary}\r\n{_body(item.html, 'html')}\r\n"
        f"--{boundary}--\r\n"
    )
    return document.encode("ascii")


def build_email(item: Outgoing, *, domain: str) -> EmailMessage:
    """Return the email of ``item`` parsed by Python's email package (headers decoded)."""
    parsed = email.message_from_bytes(
        render_email(item, domain=domain), policy=email.policy.default
    )
    assert isinstance(parsed, EmailMessage)
    return parsed
