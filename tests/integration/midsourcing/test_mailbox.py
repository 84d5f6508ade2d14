"""The web mailbox: list, search, live updates, one message in each channel, delete, quarantine
release and chaos, each change checked through the JSON API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.ui import FRAME_CSP, PAGE_CSP
from tests.integration.midsourcing.mailbox_support import Mailbox, message_links, open_mailbox
from tests.integration.midsourcing.support import (
    append,
    email,
    message_of,
    part,
    push,
    settle,
    sms,
)


@pytest.fixture
async def mailbox(mid: httpx.AsyncClient) -> Mailbox:
    """A browser on a fresh mailbox."""
    return await open_mailbox(mid)


async def _fill(mailbox: Mailbox) -> None:
    await append(
        mailbox.client,
        part(
            email("ann@example.com", subject="Reset your password"),
            email("bob@example.com", subject="Your order 42", event_type="ORDER"),
            email("cid+hard@example.com", subject="Welcome", event_type="WELCOME"),
            email(
                "seed@acme.test",
                subject="[Proof] Your order",
                event_type="ORDER",
                proof=True,
                event_id=0,
                id="proof-9",
            ),
            sms("+447700900123", text="Your code is 1234"),
            push("f00d", channel="ios", title="Shipped", data='{"orderId": "42"}'),
        ),
    )
    await settle(mailbox.client, 6)


async def _ids(mailbox: Mailbox, **params: str) -> list[int]:
    answer = await mailbox.get("/", params=params)
    assert answer.status_code == 200, answer.text
    return message_links(answer.text)


async def _api_ids(mailbox: Mailbox, **params: str) -> list[int]:
    page = (await mailbox.client.get("/api/v1/messages", params=params)).json()
    return [m["id"] for m in page["messages"]]


async def test_every_page_renders_under_the_page_policy(mailbox: Mailbox) -> None:
    await _fill(mailbox)
    ids = await _api_ids(mailbox)
    paths = ["/", "/quarantine", "/chaos", *(f"/messages/{pk}" for pk in ids)]
    for path in paths:
        answer = await mailbox.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-security-policy"] == PAGE_CSP
        assert answer.headers["x-frame-options"] == "DENY"
        assert f'"X-CSRF-Token": "{mailbox.csrf}"' in answer.text
        assert '<nav class="side" aria-label="Main">' in answer.text
    cookie = (await mailbox.client.get("/", headers={"accept": "text/html"})).headers
    assert "set-cookie" not in cookie  # the token stays the same once given
    mailbox.client.cookies.clear()
    fresh = await mailbox.get("/chaos")
    set_cookie = fresh.headers["set-cookie"].lower()
    assert "samesite=strict" in set_cookie and "httponly" in set_cookie


async def test_empty_mailbox_says_so(mailbox: Mailbox) -> None:
    assert "No message captured yet." in (await mailbox.get("/")).text
    assert "No address is in quarantine" in (await mailbox.get("/quarantine")).text
    chaos = (await mailbox.get("/chaos")).text
    assert chaos.count("No chaos: messages are delivered as usual.") == 4
    assert "Stop all chaos" not in chaos


async def test_list_is_newest_first_with_counts_and_proof_marker(mailbox: Mailbox) -> None:
    await _fill(mailbox)
    answer = (await mailbox.get("/")).text
    assert message_links(answer) == await _api_ids(mailbox)  # same order: newest first
    assert message_links(answer) == sorted(message_links(answer), reverse=True)
    counts = re.search(r'<p class="counts".*?</p>', answer, re.S)
    assert counts is not None
    text = " ".join(re.sub(r"<[^>]+>", " ", counts.group(0)).split())
    assert text.startswith("6 captured")
    assert "email 4" in text and "sms 1" in text and "ios 1" in text
    assert "sent 5" in text and "failed 1" in text and "proofs 1" in text
    assert answer.count('<span class="badge proof" title="A proof sent to a seed address">') == 1


async def test_search_narrows_like_the_api(mailbox: Mailbox) -> None:
    await _fill(mailbox)
    assert await _ids(mailbox, q="bob@") == await _api_ids(mailbox, q="bob@")
    assert len(await _ids(mailbox, q="bob@")) == 1
    assert len(await _ids(mailbox, q="ORDER")) == 2
    assert len(await _ids(mailbox, recipient="ann")) == 1
    assert len(await _ids(mailbox, subject="order")) == 2
    assert len(await _ids(mailbox, event_type="WELCOME")) == 1
    assert len(await _ids(mailbox, channel="sms")) == 1
    assert len(await _ids(mailbox, channel="push")) == 1
    assert len(await _ids(mailbox, status="failed")) == 1
    assert len(await _ids(mailbox, proof="yes")) == 1
    assert len(await _ids(mailbox, proof="no")) == 5
    assert await _ids(mailbox, q="ann", channel="sms") == []
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert len(await _ids(mailbox, since=past, until=future)) == 6
    nothing = await mailbox.get("/", params={"since": future})
    assert "No message matches this search." in nothing.text
    assert message_links(nothing.text) == []


async def test_an_event_is_found_by_its_event_id(mailbox: Mailbox) -> None:
    wanted = email("dee@example.com", instance=2)
    await append(mailbox.client, part(email("eve@example.com"), wanted, instance=2))
    await settle(mailbox.client, 2)
    found = await _ids(mailbox, q=str(wanted.event_id))
    detail = await message_of(mailbox.client, wanted.id)
    assert found == [detail["id"]]


async def test_wrong_filters_get_a_clear_error_page(mailbox: Mailbox) -> None:
    for params, words in [
        ({"channel": "fax"}, "channel must be one of email, sms"),
        ({"status": "lost"}, "status must be one of queued"),
        ({"since": "yesterday"}, "since must be a date and time"),
        ({"proof": "maybe"}, "proof must be yes, no or empty"),
    ]:
        answer = await mailbox.get("/", params=params)
        assert answer.status_code == 400, params
        assert words in answer.text
        assert answer.headers["content-type"].startswith("text/html")


async def test_paging(mailbox: Mailbox) -> None:
    for number in range(5):
        await append(mailbox.client, part(email(f"u{number}@example.com")))
    await settle(mailbox.client, 5)
    first = await mailbox.get("/", params={"limit": "2"})
    assert len(message_links(first.text)) == 2
    assert "1\N{EN DASH}2 of 5" in first.text
    assert 'href="/?offset=2&amp;limit=2"' in first.text
    last = await mailbox.get("/", params={"limit": "2", "offset": "4"})
    assert message_links(last.text) == (await _api_ids(mailbox))[4:]
    searched = await mailbox.get("/", params={"q": "example.com", "limit": "2"})
    assert 'href="/?q=example.com&amp;offset=2&amp;limit=2"' in searched.text


async def test_the_list_updates_itself_without_a_reload(mailbox: Mailbox) -> None:
    await append(mailbox.client, part(email("ann@example.com")))
    await settle(mailbox.client, 1)
    page = (await mailbox.get("/", params={"q": "example"})).text
    poll = re.search(
        r'<section id="message-list" hx-get="([^"]+)" hx-trigger="messages-changed from:body" '
        r'data-live="/api/v1/messages/stream"',
        page,
    )
    assert poll is not None
    url = poll.group(1).replace("&amp;", "&")
    assert url.startswith("/?q=example&")
    unchanged = await mailbox.hx(url)
    assert unchanged.status_code == 204  # nothing new: htmx keeps the list as it is

    await append(mailbox.client, part(email("bob@example.com", subject="Brand new")))
    await settle(mailbox.client, 2)
    changed = await mailbox.hx(url)
    assert changed.status_code == 200
    assert "<html" not in changed.text and 'id="message-list"' in changed.text
    assert "Brand new" in changed.text
    assert len(message_links(changed.text)) == 2


async def test_an_email_in_tabs_with_its_html_in_a_sandboxed_frame(mailbox: Mailbox) -> None:
    message = email(
        "ann@example.com",
        subject="Bonjour",
        text="Hello Ann\nSecond line\n",
        html="<p>Hello <b>Ann</b></p>",
    )
    await append(mailbox.client, part(message))
    await settle(mailbox.client, 1)
    pk = (await message_of(mailbox.client, message.id))["id"]
    answer = (await mailbox.get(f"/messages/{pk}")).text
    tabs = [("html", "HTML"), ("text", "Text"), ("headers", "Headers"), ("raw", "Raw")]
    for name, label in tabs:
        link = rf'<a role="tab" id="tab-{name}" href="/messages/{pk}\?tab={name}"[^>]*>{label}</a>'
        assert re.search(link, answer), name
    assert 'aria-controls="panel-html" aria-selected="true"' in answer
    frame = re.search(r"<iframe [^>]*>", answer)
    assert frame is not None
    assert 'id="message-html"' in frame.group(0)
    assert f'src="/messages/{pk}/html"' in frame.group(0)
    assert re.search(r"\ssandbox\s", frame.group(0)) and "allow-" not in frame.group(0)
    assert "srcdoc" not in answer
    assert '<pre id="message-text">Hello Ann\nSecond line\n</pre>' in answer
    assert '<th scope="row" class="mono">Subject</th><td class="mono">Bonjour</td>' in answer
    assert f'id="message-event-id">{message.event_id}<' in answer
    assert f'id="message-id">{message.id}<' in answer
    raw_source = (await mailbox.client.get(f"/api/v1/messages/{pk}/raw")).text
    assert "Subject: Bonjour" in raw_source
    assert f'download="message-{pk}.eml"' in answer
    assert f'href="/api/v1/messages/{pk}/raw"' in answer

    on_text = (await mailbox.get(f"/messages/{pk}", params={"tab": "text"})).text
    assert 'aria-controls="panel-text" aria-selected="true"' in on_text
    hidden_html = '<section role="tabpanel" id="panel-html" aria-labelledby="tab-html" class'
    assert hidden_html + '="tabpanel" hidden>' in on_text

    frame_answer = await mailbox.get(f"/messages/{pk}/html")
    assert frame_answer.status_code == 200
    assert frame_answer.text == "<p>Hello <b>Ann</b></p>"
    assert frame_answer.headers["content-security-policy"] == FRAME_CSP
    assert "script-src" not in FRAME_CSP and "sandbox" in FRAME_CSP


async def test_an_email_without_html_opens_on_its_text(mailbox: Mailbox) -> None:
    message = email("ann@example.com", html="", text="Only text")
    await append(mailbox.client, part(message))
    await settle(mailbox.client, 1)
    pk = (await message_of(mailbox.client, message.id))["id"]
    answer = (await mailbox.get(f"/messages/{pk}")).text
    assert 'id="tab-html"' not in answer and "<iframe" not in answer
    assert 'aria-controls="panel-text" aria-selected="true"' in answer
    assert (await mailbox.get(f"/messages/{pk}/html")).status_code == 404


async def test_sms_and_push_views(mailbox: Mailbox) -> None:
    text_message = sms("+447700900123", text="Your code is 1234")
    note = push(
        "f00d", channel="android", title="Shipped", text="On its way", data='{"orderId":"42"}'
    )
    await append(mailbox.client, part(text_message, note))
    await settle(mailbox.client, 2)
    sms_pk = (await message_of(mailbox.client, text_message.id))["id"]
    push_pk = (await message_of(mailbox.client, note.id))["id"]

    sms_page = (await mailbox.get(f"/messages/{sms_pk}")).text
    assert '<div class="bubble">Your code is 1234</div>' in sms_page
    assert 'class="phone" id="message-sms"' in sms_page
    assert "<iframe" not in sms_page
    assert f'download="message-{sms_pk}.json"' in sms_page

    push_page = (await mailbox.get(f"/messages/{push_pk}")).text
    assert '<div class="notification-title" id="push-title">Shipped</div>' in push_page
    assert '<div class="notification-body" id="push-body">On its way</div>' in push_page
    assert '<dd id="push-platform">Android (FCM)</dd>' in push_page
    assert "&#34;orderId&#34;: &#34;42&#34;" in push_page  # pretty-printed custom data
    assert 'id="tab-push"' in push_page and 'id="tab-raw"' in push_page


async def test_delete_one_and_all_change_what_the_api_reports(mailbox: Mailbox) -> None:
    await _fill(mailbox)
    ids = await _api_ids(mailbox)
    page = (await mailbox.get(f"/messages/{ids[0]}")).text
    assert f'action="/messages/{ids[0]}/delete"' in page
    deleted = await mailbox.post(f"/messages/{ids[0]}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"] == "/?deleted=1"
    assert (await mailbox.client.get(f"/api/v1/messages/{ids[0]}")).status_code == 404
    assert "Deleted 1 message." in (await mailbox.get("/?deleted=1")).text
    gone = await mailbox.get(f"/messages/{ids[0]}")
    assert gone.status_code == 404 and "no captured message" in gone.text

    assert 'action="/messages/delete"' in (await mailbox.get("/")).text
    everything = await mailbox.post("/messages/delete")
    assert everything.status_code == 303
    assert everything.headers["location"] == "/?deleted=5&kept=0"
    assert (await mailbox.client.get("/api/v1/messages/counts")).json()["total"] == 0


async def test_quarantine_list_and_release(mailbox: Mailbox) -> None:
    await append(
        mailbox.client,
        part(email("ann+hard@example.com"), email("bob+hard@example.com"), sms("+447700900000")),
    )
    await settle(mailbox.client, 3)
    listing = (await mailbox.get("/quarantine")).text
    for address in ("ann+hard@example.com", "bob+hard@example.com", "+447700900000"):
        assert f'<td class="mono address">{address}</td>' in listing
    assert "User unknown" in listing and "in quarantine" in listing
    only_sms = (await mailbox.get("/quarantine", params={"channel": "sms"})).text
    assert only_sms.count('class="address-row"') == 1

    released = await mailbox.post("/quarantine/release", {"address": "ann+hard@example.com"})
    assert released.status_code == 303
    assert (await mailbox.client.get("/api/v1/quarantine/ann+hard@example.com")).status_code == 404
    assert "Released 1 address" in (await mailbox.get(released.headers["location"])).text
    again = await mailbox.post("/quarantine/release", {"address": "ann+hard@example.com"})
    assert again.status_code == 404 and "neither in quarantine" in again.text

    everything = await mailbox.post("/quarantine/release-all")
    assert everything.headers["location"] == "/quarantine?released=2"
    assert (await mailbox.client.get("/api/v1/quarantine")).json()["total"] == 0


async def test_chaos_is_shown_changed_and_stopped(mailbox: Mailbox) -> None:
    saved = await mailbox.post(
        "/chaos/sms",
        {"probability": "0.25", "failure_reason": "5", "failure_type": "", "latency_ms": "150"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/chaos?saved=sms"
    config = (await mailbox.client.get("/api/v1/chaos")).json()
    assert config["channels"] == {
        "sms": {"probability": 0.25, "failureReason": 5, "failureType": None, "latencyMs": 150}
    }
    page = (await mailbox.get("/chaos?saved=sms")).text
    assert "The sms chaos is saved." in page
    assert "25% fail with 5 (" not in page and "25% fail with 5, +150 ms per try" in page

    await mailbox.post(
        "/chaos/email",
        {"probability": "1", "failure_reason": "1", "failure_type": "soft", "latency_ms": "0"},
    )
    stopped = await mailbox.post("/chaos/sms/reset")
    assert stopped.headers["location"] == "/chaos?stopped=sms"
    config = (await mailbox.client.get("/api/v1/chaos")).json()
    assert list(config["channels"]) == ["email"]
    assert config["channels"]["email"]["failureType"] == "soft"

    assert (await mailbox.post("/chaos/reset")).headers["location"] == "/chaos?stopped=all"
    assert (await mailbox.client.get("/api/v1/chaos")).json()["channels"] == {}


async def test_wrong_chaos_values_are_explained_and_change_nothing(mailbox: Mailbox) -> None:
    await mailbox.client.put("/api/v1/chaos/email", json={"probability": 0.5})
    before = (await mailbox.client.get("/api/v1/chaos")).json()
    for form, words in [
        # in plain words, next to the field (issue 18)
        ({"probability": "2"}, "Enter a share from 0 to 1"),
        ({"probability": "lots"}, "Enter a share from 0 to 1"),
        ({"failure_reason": "9"}, "Failure reason 9 cannot be injected"),
        ({"latency_ms": "-1"}, "Enter a whole number of milliseconds"),
    ]:
        answer = await mailbox.post("/chaos/email", form)
        assert answer.status_code == 400, form
        assert "The email chaos was not changed: " in answer.text
        assert words in answer.text, answer.text
    assert (await mailbox.post("/chaos/fax", {"probability": "1"})).status_code == 400
    assert (await mailbox.client.get("/api/v1/chaos")).json() == before
