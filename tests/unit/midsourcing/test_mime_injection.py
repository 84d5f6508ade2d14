"""What a template's data cannot do to an email (security review F4, F10, F14).

F4: a predicted boundary in a part cannot close the multipart and add a part of its own.
F10: converting HTML to text is linear, whatever the markup.
F14: From and Reply-To hold exactly one address; a second mailbox is refused.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import html as html_lib
import re
import time
from collections.abc import Callable
from email.message import EmailMessage

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midsourcing.delivery import mime
from midsourcing.delivery.mime import InvalidAddress, check_addresses, html_to_text, render_email
from tests.unit.midsourcing.builders import outgoing

DOMAIN = "mcsim.local"


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts_of(raw: bytes) -> list[tuple[str, str]]:
    """Return (content type, content with newlines) of every leaf part of ``raw``."""
    found = []
    for part in parse(raw).walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        assert isinstance(content, str)
        found.append((part.get_content_type(), content.replace("\r\n", "\n")))
    return found


def as_sent(text: str) -> str:
    """Return ``text`` as a part carries it: newline line ends, ending with one."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


# -- F4: MIME part injection ----------------------------------------------------------------------
def _old_boundary(message_id: str) -> str:
    """The boundary mcsim used before the fix, which anyone could compute from the Message-ID."""
    return "=_mcsim_" + hashlib.sha256(message_id.encode()).hexdigest()[:24]


def _injection(boundary: str) -> str:
    return (
        f'Ann\n\n--{boundary}\nContent-Type: text/html; charset="utf-8"\n\n'
        '<h1>INJECTED PART</h1><a href="https://evil.example/login">Verify your account</a>\n'
        f"--{boundary}--\n"
    )


def test_the_reviews_injection_through_the_predicted_boundary_stays_text() -> None:
    text = "Hello " + _injection(_old_boundary("1-8030"))
    item = outgoing(text=text, html="<p>Hello Ann</p>")
    raw = render_email(item, domain=DOMAIN)
    assert parts_of(raw) == [("text/plain", as_sent(text)), ("text/html", "<p>Hello Ann</p>\n")]
    assert parse(raw).defects == []


def test_the_actual_boundary_in_a_part_cannot_end_the_multipart_either() -> None:
    # The attacker learns the boundary of one rendering and replays it in the same message.
    boundary = parse(render_email(outgoing(html="<p>Hello Ann</p>"), domain=DOMAIN)).get_boundary()
    assert boundary is not None
    text = "Hello " + _injection(boundary)
    raw = render_email(outgoing(text=text, html="<p>Hello Ann</p>"), domain=DOMAIN)
    assert parts_of(raw) == [("text/plain", as_sent(text)), ("text/html", "<p>Hello Ann</p>\n")]
    assert parse(raw).get_boundary() != boundary


def test_a_part_with_a_delimiter_like_line_is_quoted_printable() -> None:
    raw = render_email(outgoing(text="a\n--x\n", html="<p>x</p>"), domain=DOMAIN)
    message = parse(raw)
    text_part, html_part = message.iter_parts()
    assert text_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert html_part["Content-Transfer-Encoding"] == "7bit"  # ordinary parts stay readable


def test_the_boundary_is_stable_for_a_message_but_not_a_function_of_its_id() -> None:
    item = outgoing()
    assert render_email(item, domain=DOMAIN) == render_email(item, domain=DOMAIN)
    other_text = outgoing(text="Hello Bob\n")
    first = parse(render_email(item, domain=DOMAIN)).get_boundary()
    second = parse(render_email(other_text, domain=DOMAIN)).get_boundary()
    assert first != second and first != _old_boundary(item.message_id)


def test_a_boundary_found_in_a_part_is_replaced() -> None:
    contents = ("a\r\n--=_mcsim_1\r\n", "b=_mcsim_2\r\n")
    assert mime._absent_from(["=_mcsim_1", "=_mcsim_2", "=_mcsim_3"], contents) == "=_mcsim_3"
    assert mime._boundary("1-8030", contents).startswith("=_mcsim_")


_PART_TEXT = st.lists(
    st.one_of(
        st.sampled_from(["\n", "\r", "\r\n", "-", "--", "=", "=_mcsim_", " ", "\t", "."]),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(text=_PART_TEXT, markup=_PART_TEXT)
def test_any_parts_come_back_exactly_as_the_two_genuine_parts(text: str, markup: str) -> None:
    item = outgoing(text=text, html=markup)
    raw = render_email(item, domain=DOMAIN)
    raw.decode("ascii")
    if not markup:
        assert parts_of(raw) == [("text/plain", as_sent(text))]
        return
    plain = text or html_to_text(markup)
    assert parts_of(raw) == [("text/plain", as_sent(plain)), ("text/html", as_sent(markup))]
    assert parse(raw).defects == []


@settings(max_examples=100, deadline=None)
@given(prefix=_PART_TEXT)
def test_a_text_that_replays_its_own_boundary_still_comes_back_whole(prefix: str) -> None:
    first = outgoing(text=prefix, html="<p>x</p>")
    boundary = parse(render_email(first, domain=DOMAIN)).get_boundary()
    text = prefix + "\n" + _injection(str(boundary))
    raw = render_email(outgoing(text=text, html="<p>x</p>"), domain=DOMAIN)
    assert parts_of(raw) == [("text/plain", as_sent(text)), ("text/html", "<p>x</p>\n")]


# -- F10: linear HTML to text ---------------------------------------------------------------------
def _fastest(convert: Callable[[str], str], markup: str) -> float:
    """The least CPU time of five conversions: the process's own time, which a busy machine
    (other processes taking the cores) does not lengthen as it does the wall clock's."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        convert(markup)
        best = min(best, time.process_time() - started)
    return best


@pytest.mark.parametrize("unit", ["<head", "<script", "<style x", "<br", "<a", "< /p", "<p x='"])
def test_html_to_text_is_linear_in_many_unclosed_openings(unit: str) -> None:
    small = _fastest(html_to_text, unit * 7_500)
    large = _fastest(html_to_text, unit * 60_000)  # twice the review's 150 KB part (48 s before)
    assert large < 4.0
    # Eight times the input: linear is 8 times the time, quadratic 64. The margin is wide: on
    # a loaded machine the small input's best time can still be a few times too short.
    assert large < 32 * max(small, 1e-3)


def test_an_html_only_email_of_the_review_renders_quickly() -> None:
    started = time.process_time()
    raw = render_email(outgoing(text="", html="<head" * 30_000), domain=DOMAIN)
    assert time.process_time() - started < 2.0
    assert parts_of(raw)[0] == ("text/plain", "<head" * 30_000 + "\n")


_OLD_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_OLD_BREAK = re.compile(r"<\s*(br|/p|/div|/h[1-6]|/li|/tr)\b[^>]*>", re.IGNORECASE)
_OLD_TAG = re.compile(r"<[^>]+>")


def _old_html_to_text(markup: str) -> str:
    """The quadratic conversion of before the fix: the reference for small inputs."""
    text = _OLD_BREAK.sub("\n", _OLD_DROP.sub("", markup))
    text = html_lib.unescape(_OLD_TAG.sub("", text))
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines())
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", "\n".join(lines)).strip() + "\n"


_HTML_PIECES = st.sampled_from(
    [
        "<",
        ">",
        "/",
        " ",
        "\n",
        "x",
        "&amp;",
        "<head>",
        "</head>",
        "<HEAD",
        "</Head >",
        "<script>",
        "</script>",
        "</SCRIPT\n>",
        "<style",
        "</style>",
        "<header>",
        "<br>",
        "<br/",
        "< br>",
        "<p>",
        "</p>",
        "</div>",
        "<h1>",
        "</h3 x>",
        "<li>",
        "</li>",
        "</tr>",
        "<b>",
        "</b>",
        "<a href='>'>",
        "<!-- x -->",
        "<>",
    ]
)


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(_HTML_PIECES, max_size=25))
def test_html_to_text_reads_as_before_the_fix(pieces: list[str]) -> None:
    markup = "".join(pieces)
    assert html_to_text(markup) == _old_html_to_text(markup)


def test_html_to_text_of_an_ordinary_email() -> None:
    markup = (
        "<html><head><title>T</title><style>p{}</style></head><body><h1>Order 42</h1>"
        "<p>Hi &amp; welcome,</p><p>Your   order</p><ul><li>a</li><li>b</li></ul>"
        "<script>track()</script><br>Bye</body></html>"
    )
    assert html_to_text(markup) == "Order 42\nHi & welcome,\nYour order\na\nb\n\nBye\n"


# -- F14: one address in From and Reply-To --------------------------------------------------------
_SECOND_MAILBOX = [
    "support@acme.test,attacker@evil.example",
    "no-reply@acme.test>,<ceo@bank.example",
    "a@acme.test;b@evil.example",
    "a@acme.test b@evil.example",
    "Acme <a@acme.test>",
    "<a@acme.test>",
    '"a@acme.test"',
    '"x,y"@acme.test',
    "a@acme.test@evil.example",
    "group: a@acme.test;",
    "a@acme.test (comment)",
    "support@acme.test\r\nBcc: evil@evil.example",
]


@pytest.mark.parametrize("value", _SECOND_MAILBOX)
@pytest.mark.parametrize(("field", "header"), [("from_address", "From"), ("reply_to", "Reply-To")])
def test_a_second_mailbox_in_from_or_reply_to_is_refused(
    field: str, header: str, value: str
) -> None:
    item = outgoing(**{field: value})
    with pytest.raises(InvalidAddress) as refused:
        render_email(item, domain=DOMAIN)
    assert refused.value.header == header
    assert str(refused.value).startswith(f"{header} ")
    with pytest.raises(InvalidAddress):
        check_addresses(item, domain=DOMAIN)


def test_the_reason_names_what_is_wrong() -> None:
    with pytest.raises(InvalidAddress, match=r"Reply-To .* contains ',' \(one address only"):
        render_email(outgoing(reply_to="a@x.test,b@y.test"), domain=DOMAIN)
    with pytest.raises(InvalidAddress, match="more than one @"):
        render_email(outgoing(from_address="a@x.test@y.test"), domain=DOMAIN)


@pytest.mark.parametrize(
    "value",
    [
        "noreply@acme.test",
        "ann+delay=2s+softonce@example.com",
        '"sales.team"@acme.test',
        "o'brien@example.ie",
        "first.last.@example.jp",
    ],
)
def test_plain_addresses_are_still_accepted(value: str) -> None:
    message = parse(render_email(outgoing(from_address=value, reply_to=value), domain=DOMAIN))
    assert len(message["From"].addresses) == 1
    assert len(message["Reply-To"].addresses) == 1


@settings(max_examples=400, deadline=None)
@given(
    value=st.text(
        alphabet=st.sampled_from(list("ab.@,;<>\"' ()[]:\\+=-\t\r\n")) | st.characters(),
        max_size=20,
    )
)
def test_an_accepted_reply_to_is_exactly_one_mailbox(value: str) -> None:
    if not value:
        return  # no Reply-To at all
    try:
        raw = render_email(outgoing(reply_to=value, html=""), domain=DOMAIN)
    except InvalidAddress:
        return
    message = parse(raw)
    reply_to = message["Reply-To"]
    assert len(reply_to.addresses) == 1 and not reply_to.defects
    assert reply_to.addresses[0].display_name == ""
    assert len(message.get_all("Reply-To") or []) == 1
