"""The email of a message: structure, headers, encodings, and byte-for-byte stability."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from midsourcing.delivery.mime import build_email, html_to_text, message_id_header, render_email
from tests.unit.midsourcing.builders import ACCEPTED_AT, outgoing

DOMAIN = "mcsim.local"


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def content(part: EmailMessage) -> str:
    """Return a text part's content with the wire's CRLF line ends as newlines."""
    text = part.get_content()
    assert isinstance(text, str)
    return text.replace("\r\n", "\n")


def test_an_email_is_multipart_alternative_with_text_then_html() -> None:
    raw = render_email(outgoing(), domain=DOMAIN)
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert content(parts[0]) == "Hello Ann\n"
    assert content(parts[1]) == "<p>Hello <b>Ann</b></p>\n"
    assert message.defects == []
    assert all(p["MIME-Version"] is None for p in parts)
    assert raw.count(b"MIME-Version") == 1
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")


def test_campaign_like_headers_and_the_mcsim_headers() -> None:
    message = parse(render_email(outgoing(), domain=DOMAIN))
    assert message["Message-ID"] == "<mcsim.1-8030@mcsim.local>"
    assert parsedate_to_datetime(message["Date"]) == ACCEPTED_AT.replace(microsecond=0)
    assert message["From"].addresses[0].display_name == "Acme"
    assert message["From"].addresses[0].addr_spec == "noreply@acme.test"
    assert message["To"] == "ann@example.com"
    assert message["Reply-To"] == "help@acme.test"
    assert message["Subject"] == "Reset your password"
    assert message["X-Mcsim-Event-Id"] == str((1 << 56) | 8030)
    assert message["X-Mcsim-Event-Type"] == "PASSWORD_RESET"
    assert message["X-Mcsim-Message-Id"] == "1-8030"
    assert message["X-Mcsim-Proof"] is None
    proof = parse(render_email(outgoing(proof=True), domain=DOMAIN))
    assert proof["X-Mcsim-Proof"] == "true"


def test_non_ascii_headers_are_rfc2047_encoded_and_bodies_never_8bit() -> None:
    item = outgoing(
        from_name="Ácme Støre",
        subject="Réinitialisez votre mot de passe — ça marche 🔑",
        text="Bonjour Zoë, voilà 🔑\n",
        html="<p>Bonjour Zoë — voilà</p>",
    )
    raw = render_email(item, domain=DOMAIN)
    raw.decode("ascii")  # every byte is 7-bit
    assert b"=?utf-8?b?" in raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    message = parse(raw)
    assert message["Subject"] == "Réinitialisez votre mot de passe — ça marche 🔑"
    assert message["From"].addresses[0].display_name == "Ácme Støre"
    body = message.get_body(("plain",))
    assert body is not None
    assert content(body) == "Bonjour Zoë, voilà 🔑\n"
    for part in message.iter_parts():
        assert part["Content-Transfer-Encoding"] in {"quoted-printable", "base64"}


def test_the_same_message_builds_the_same_bytes_on_every_try() -> None:
    first = render_email(outgoing(tries=1), domain=DOMAIN)
    again = render_email(outgoing(tries=4), domain=DOMAIN)
    assert first == again
    other = render_email(outgoing(message_id="1-8031"), domain=DOMAIN)
    assert other != first


def test_an_html_only_message_gets_a_text_alternative() -> None:
    item = outgoing(
        text="",
        html="<html><head><style>p{}</style></head><body><p>Hi &amp; bye</p>"
        "<br>Order <b>42</b><script>x()</script></body></html>",
    )
    message = parse(render_email(item, domain=DOMAIN))
    plain = message.get_body(("plain",))
    assert plain is not None
    assert content(plain) == "Hi & bye\n\nOrder 42\n"


def test_a_text_only_message_is_a_single_text_part() -> None:
    message = parse(render_email(outgoing(html=""), domain=DOMAIN))
    assert message.get_content_type() == "text/plain"
    assert content(message) == "Hello Ann\n"


def test_a_missing_sender_uses_the_message_id_domain() -> None:
    message = parse(render_email(outgoing(from_address="", from_name=""), domain=DOMAIN))
    assert message["From"] == "noreply@mcsim.local"


def test_message_ids_are_safe_whatever_the_delivery_message_id() -> None:
    assert message_id_header("2-77", "example.org") == "<mcsim.2-77@example.org>"
    odd = message_id_header("a b<c>@d", "example.org")
    assert odd.startswith("<mcsim.") and odd.endswith("@example.org>")
    assert " " not in odd and odd.count("<") == 1 and odd.count("@") == 1
    assert odd == message_id_header("a b<c>@d", "example.org")


def test_html_to_text_keeps_line_structure() -> None:
    assert html_to_text("<h1>Title</h1><p>One</p><ul><li>a</li><li>b</li></ul>") == (
        "Title\nOne\na\nb\n"
    )


def test_header_values_cannot_inject_headers() -> None:
    item = outgoing(
        subject="Hi\r\nBcc: victim@example.com",
        from_name="Acme\nX-Evil: 1",
        event_type="T\r\nX-Evil: 2",
    )
    raw = render_email(item, domain=DOMAIN)
    message = parse(raw)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Hi Bcc: victim@example.com"
    assert message["From"].addresses[0].display_name == "Acme X-Evil: 1"


def test_long_and_odd_headers_fold_and_round_trip() -> None:
    subject = "Votre commande n° 42 est expédiée — " * 12
    name = 'Acme "Support", Inc. (EU)'
    ascii_subject = "word " * 300
    for item in (
        outgoing(subject=subject.strip(), from_name=name),
        outgoing(subject=ascii_subject.strip()),
        outgoing(subject="=?utf-8?q?not-an-encoded-word?= literally"),
    ):
        raw = render_email(item, domain=DOMAIN)
        message = parse(raw)
        assert message["Subject"] == item.subject
        assert message["From"].addresses[0].display_name == item.from_name
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        assert message.defects == []


def test_long_lines_and_bare_line_ends_are_encoded_safely() -> None:
    text = "x" * 2000 + "\rlast line\r\nend"
    raw = render_email(outgoing(text=text, html=""), domain=DOMAIN)
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert content(parse(raw)) == "x" * 2000 + "\nlast line\nend\n"


@pytest.mark.parametrize("field", ["recipient", "from_address", "reply_to"])
@pytest.mark.parametrize("address", ["zoë@example.com", "no-at-sign", "a b@example.com"])
def test_addresses_that_cannot_be_sent_are_refused(field: str, address: str) -> None:
    with pytest.raises(ValueError, match="not an ASCII email address"):
        render_email(outgoing(**{field: address}), domain=DOMAIN)


def test_build_email_parses_the_rendered_bytes() -> None:
    message = build_email(outgoing(subject="Été"), domain=DOMAIN)
    assert message["Subject"] == "Été"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
