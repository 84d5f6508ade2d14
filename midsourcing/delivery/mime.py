"""Build the email of a message: multipart/alternative text + HTML, Campaign-like headers.

The document is a pure function of the stored message: the Date is when mid-sourcing accepted
it, the Message-ID and the MIME boundary derive from the message id. What the SMTP relay
received and what ``/api/v1/messages/{id}/raw`` shows are therefore the same bytes, on every
try. Headers are RFC 2047-encoded when they are not ASCII; bodies are quoted-printable or
base64, never raw 8-bit.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from midsourcing.delivery.item import Outgoing

__all__ = ["EMAIL_POLICY", "build_email", "html_to_text", "message_id_header"]

#: SMTP line endings and 7-bit transfer encodings (no reliance on 8BITMIME).
EMAIL_POLICY = policy.SMTP.clone(cte_type="7bit")

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/li|/tr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"\n\s*\n\s*\n+")
_SPACES = re.compile(r"[ \t]+")


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


def build_email(item: Outgoing, *, domain: str) -> EmailMessage:
    """Return the email of ``item``, ready for ``as_bytes()``."""
    message = EmailMessage(policy=EMAIL_POLICY)
    message["Message-ID"] = message_id_header(item.message_id, domain)
    message["Date"] = format_datetime(item.created_at)
    sender = item.from_address or f"noreply@{domain}"
    message["From"] = Address(display_name=item.from_name, addr_spec=sender)
    message["To"] = item.recipient
    if item.reply_to:
        message["Reply-To"] = item.reply_to
    message["Subject"] = item.subject
    message["X-Mcsim-Event-Id"] = str(item.event_id)
    message["X-Mcsim-Event-Type"] = item.event_type
    message["X-Mcsim-Message-Id"] = item.message_id
    if item.proof:
        message["X-Mcsim-Proof"] = "true"
    text = item.text
    if item.html:
        message.set_content(text or html_to_text(item.html))
        message.add_alternative(item.html, subtype="html")
        message.set_boundary("=_mcsim_" + _digest(item.message_id, 24))
        for part in message.iter_parts():
            del part["MIME-Version"]  # only the top level carries it
    else:
        message.set_content(text)
    return message
