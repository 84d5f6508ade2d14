"""The mailbox is safe without a login: cross-site or token-less changes are refused and change
nothing, and hostile message content is shown inert everywhere."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from services.ui import FRAME_CSP
from tests.integration.midsourcing.mailbox_support import HTML, Mailbox, open_mailbox
from tests.integration.midsourcing.support import append, email, message_of, part, push, settle, sms

HOSTILE = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>"


@pytest.fixture
async def mailbox(mid: httpx.AsyncClient) -> Mailbox:
    """A browser on a mailbox holding one finished message and one quarantined address."""
    browser = await open_mailbox(mid)
    await append(mid, part(email("ann@example.com"), email("bob+hard@example.com")))
    await settle(mid, 2)
    await mid.put("/api/v1/chaos/sms", json={"probability": 0.5})
    return browser


async def _state(mailbox: Mailbox) -> dict[str, Any]:
    api = mailbox.client
    return {
        "messages": (await api.get("/api/v1/messages")).json()["total"],
        "quarantine": (await api.get("/api/v1/quarantine")).json()["total"],
        "chaos": (await api.get("/api/v1/chaos")).json(),
    }


async def _changes(mailbox: Mailbox) -> list[tuple[str, dict[str, str]]]:
    first = (await mailbox.client.get("/api/v1/messages")).json()["messages"][0]["id"]
    return [
        (f"/messages/{first}/delete", {}),
        ("/messages/delete", {}),
        ("/quarantine/release", {"address": "bob+hard@example.com"}),
        ("/quarantine/release-all", {}),
        ("/chaos/email", {"probability": "1", "failure_reason": "3", "latency_ms": "0"}),
        ("/chaos/sms/reset", {}),
        ("/chaos/reset", {}),
    ]


async def test_changes_without_the_token_are_refused_and_change_nothing(mailbox: Mailbox) -> None:
    before = await _state(mailbox)
    client = mailbox.client
    for path, form in await _changes(mailbox):
        bare = await client.post(path, data=form, headers=HTML)
        assert bare.status_code == 403, path
        assert "reload the page and try again" in bare.text
        wrong = await client.post(path, data={**form, "csrf_token": "x" * 43}, headers=HTML)
        assert wrong.status_code == 403, path
        json_api_style = await client.post(path, json=form, headers={"X-CSRF-Token": ""})
        assert json_api_style.status_code == 403, path
    assert await _state(mailbox) == before


async def test_a_token_without_its_cookie_is_refused(mailbox: Mailbox) -> None:
    token = mailbox.csrf
    before = await _state(mailbox)
    mailbox.client.cookies.clear()  # another browser (a forged form) has no cookie to match
    for path, form in await _changes(mailbox):
        answer = await mailbox.client.post(path, data={**form, "csrf_token": token}, headers=HTML)
        assert answer.status_code == 403, path
    assert await _state(mailbox) == before


async def test_changes_from_another_site_are_refused_even_with_the_token(
    mailbox: Mailbox,
) -> None:
    before = await _state(mailbox)
    for path, form in await _changes(mailbox):
        for headers in (
            {"origin": "https://evil.example"},
            {"origin": "null"},
            {"sec-fetch-site": "cross-site"},
            {"sec-fetch-site": "same-site"},
        ):
            answer = await mailbox.post(path, form, headers=headers)
            assert answer.status_code == 403, (path, headers)
            assert "sent from another site" in answer.text
    assert await _state(mailbox) == before


async def test_the_token_in_the_htmx_header_or_the_form_is_accepted(mailbox: Mailbox) -> None:
    by_header = await mailbox.client.post(
        "/chaos/sms/reset",
        headers={"X-CSRF-Token": mailbox.csrf, "sec-fetch-site": "same-origin", **HTML},
    )
    assert by_header.status_code == 303
    by_form = await mailbox.post("/chaos/reset", headers={"sec-fetch-site": "same-origin"})
    assert by_form.status_code == 303
    assert (await mailbox.client.get("/api/v1/chaos")).json()["channels"] == {}


def _inert(page: str) -> None:
    """Assert that no hostile markup made it into ``page`` as markup."""
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "onerror=alert(2)>" not in page
    # Only our own scripts, and none inline.
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/vendor/htmx-2.0.11.min.js" defer>',
        '<script src="/static/mcsim.js" defer>',
    ]


async def test_hostile_content_is_inert_on_every_page(mid: httpx.AsyncClient) -> None:
    mailbox = await open_mailbox(mid)
    hostile_email = email(
        f"x{HOSTILE}@example.com",
        subject=f"Hi {HOSTILE}",
        text=f"Text {HOSTILE}",
        html=f"<p>Hi</p>{HOSTILE}",
        from_name=f"Acme {HOSTILE}",
        event_type="HOSTILE",
    )
    hostile_sms = sms("+447700900123", text=f"SMS {HOSTILE}", event_type="HOSTILE")
    hostile_push = push(
        f"tok{HOSTILE}",
        title=f"Title {HOSTILE}",
        text=f"Body {HOSTILE}",
        app=f"app{HOSTILE}",
        data='{"k": "' + HOSTILE.replace('"', '\\"') + '"}',
        event_type="HOSTILE",
    )
    quarantined = email(f"q{HOSTILE}+hard@example.com", event_type="HOSTILE")
    await append(mid, part(hostile_email, hostile_sms, hostile_push, quarantined))
    await settle(mid, 4)

    pages = ["/", "/?q=" + "<script>", "/quarantine", "/?q=%3Cscript%3E"]
    for message in (hostile_email, hostile_sms, hostile_push, quarantined):
        pk = (await message_of(mid, message.id))["id"]
        pages += [f"/messages/{pk}?tab={tab}" for tab in ("html", "text", "headers", "raw")]
    for path in pages:
        answer = await mailbox.get(path)
        assert answer.status_code == 200, path
        _inert(answer.text)
    listing = (await mailbox.get("/")).text
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&gt;&lt;img" in listing
    assert "/messages/" in listing
    quarantine = (await mailbox.get("/quarantine")).text
    assert "q&lt;script&gt;alert(1)&lt;/script&gt;" in quarantine
    assert 'value="q&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&gt;' in quarantine
    searched = (await mailbox.get("/", params={"q": '"><script>x'})).text
    assert 'value="&#34;&gt;&lt;script&gt;x"' in searched

    push_pk = (await message_of(mid, hostile_push.id))["id"]
    push_page = (await mailbox.get(f"/messages/{push_pk}")).text
    assert "&#34;k&#34;: &#34;&lt;script&gt;alert(1)&lt;/script&gt;" in push_page

    # Its recipient is no email address: captured, shown without headers, but it has no source.
    email_pk = (await message_of(mid, hostile_email.id))["id"]
    detail = await mid.get(f"/api/v1/messages/{email_pk}")
    assert detail.status_code == 200 and detail.json()["headers"] == []
    assert (await mid.get(f"/api/v1/messages/{email_pk}/raw")).status_code == 409
    raw_tab = (await mailbox.get(f"/messages/{email_pk}?tab=raw")).text
    assert f"message {email_pk} has no source" in raw_tab

    # The HTML itself is served as it is, but only to a frame under a policy without script.
    frame = await mailbox.get(f"/messages/{email_pk}/html")
    assert frame.headers["content-security-policy"] == FRAME_CSP
    assert "script-src" not in FRAME_CSP and "default-src 'none'" in FRAME_CSP
    assert FRAME_CSP.endswith("sandbox")
    assert frame.headers["x-content-type-options"] == "nosniff"
    page = (await mailbox.get(f"/messages/{email_pk}")).text
    frame_tag = re.search(r"<iframe [^>]*>", page)
    assert frame_tag is not None and "allow-scripts" not in frame_tag.group(0)
    assert "allow-same-origin" not in frame_tag.group(0)


async def test_error_pages_escape_what_they_repeat(mailbox: Mailbox) -> None:
    answer = await mailbox.get("/", params={"channel": "<script>alert(1)</script>"})
    assert answer.status_code == 400
    _inert(answer.text)
    missing = await mailbox.get("/nowhere<script>alert(1)</script>")
    assert missing.status_code == 404
    _inert(missing.text)
