"""The event history (search, paging, archive now) and the event page, with hostile event data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from tests.integration.console.conftest import HTML, Browser
from tests.integration.console.ops_support import archive, archived_event, console_as
from tests.integration.control.conftest import MID_URL, exec_url
from tests.support.soap import event_xml, outputs_of, push_event_envelope

HOSTILE_CTX = (
    "<ctx><firstName>&lt;script&gt;alert('ctx')&lt;/script&gt;</firstName>"
    '<note quote="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">O\'Brien "quoted"</note>'
    "<script>alert('element')</script></ctx>"
)
HOSTILE_EMAIL = "\"><script>alert('to')</script>@evil.example"


async def test_the_history_lists_archived_events_with_their_status(browser: Browser) -> None:
    sent = archived_event(status=2, email="sent@example.com", external_id="ORD-1")
    failed = archived_event(
        status=4, email="bad+hard@example.com", failure_reason=1, error_text="User unknown"
    )
    archive(browser, sent, failed)
    answer = await browser.get("/events")
    assert answer.status_code == 200
    assert f'id="event-{sent["pl_id"]}"' in answer.text
    assert f'href="/events/{sent["pl_id"]}"' in answer.text
    assert ">Sent</span>" in answer.text and ">Delivery failed</span>" in answer.text
    assert 'id="events-count">2 events' in answer.text


async def test_each_filter_narrows_the_search(browser: Browser) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    events = [
        archived_event(status=2, email="a@example.com", external_id="X-1", event_type="ONE"),
        archived_event(status=4, email="b@example.com", channel=1, event_type="TWO"),
        archived_event(instance_id=2, status=2, email="c@example.com", created_at=old),
    ]
    archive(browser, *events)
    searches = {
        "email=a%40example.com": [0],
        "external_id=X-1": [0],
        f"plId={events[1]['pl_id']}": [1],
        "type=TWO": [1],
        "status=processed": [0, 2],
        "channel=1": [1],
        "instance=2": [2],
        "until=" + (old + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"): [2],
        "since=" + (old + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"): [0, 1],
    }
    for query, expected in searches.items():
        answer = await browser.get(f"/events?{query}")
        assert answer.status_code == 200, query
        shown = [i for i, e in enumerate(events) if f'id="event-{e["pl_id"]}"' in answer.text]
        assert shown == expected, query


async def test_a_wrong_filter_is_explained_and_the_page_still_renders(browser: Browser) -> None:
    answer = await browser.get("/events?status=nope&plId=12")
    assert answer.status_code == 200
    assert "status &#39;nope&#39; is not known" in answer.text
    bad_number = await browser.get("/events?plId=abc")
    assert "Enter the event id in digits" in bad_number.text  # next to the field (issue 18)
    assert 'value="abc"' in bad_number.text  # what was typed stays
    bad_time = await browser.get("/events?since=yesterday")
    assert "Enter a date and time" in bad_time.text


async def test_the_history_pages(browser: Browser) -> None:
    archive(browser, *(archived_event(email="p@example.com") for _ in range(5)))
    first = await browser.get("/events?email=p%40example.com&limit=2")
    assert "1\N{EN DASH}2 of 5" in first.text
    assert "offset=2&amp;limit=2" in first.text and "email=p%40example.com" in first.text
    last = await browser.get("/events?email=p%40example.com&limit=2&offset=4")
    assert "5\N{EN DASH}5 of 5" in last.text and last.text.count('<tr id="event-') == 1


async def test_the_event_page_shows_ctx_timeline_outcome_and_mailbox_link(
    browser: Browser,
) -> None:
    event = archived_event(
        status=4, email="x@example.com", failure_reason=1, error_text="User unknown"
    )
    archive(browser, event)
    answer = await browser.get(f"/events/{event['pl_id']}")
    assert answer.status_code == 200
    assert 'id="event-status"' in answer.text and "Delivery failed" in answer.text
    assert "&lt;firstName&gt;Ann&lt;/firstName&gt;" in answer.text  # ctx as text
    assert "Received" in answer.text and "Processing" in answer.text
    assert "User unknown" in answer.text
    assert f'href="{MID_URL}/?q={event["pl_id"]}"' in answer.text
    assert (await browser.get("/events/12345")).status_code == 404


class _Tags(HTMLParser):
    """Every element and attribute a browser would build from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


async def test_hostile_ctx_and_recipient_are_inert(browser: Browser) -> None:
    event = archived_event(email=HOSTILE_EMAIL, ctx=HOSTILE_CTX, external_id='"><b>x</b>')
    archive(browser, event)
    for path in ("/events", f"/events/{event['pl_id']}"):
        answer = await browser.get(path)
        assert answer.status_code == 200
        elements = _elements(answer.text)
        scripts = [attrs.get("src") for tag, attrs in elements if tag == "script"]
        assert all(src and src.startswith("/static/") for src in scripts), scripts
        assert not [tag for tag, _ in elements if tag in ("img", "b")]
        assert not [a for _, a in elements if any(k.startswith("on") for k in a)]
        assert "&lt;script&gt;alert(" in answer.text  # shown, as text
    detail = (await browser.get(f"/events/{event['pl_id']}")).text
    assert "O&#39;Brien &#34;quoted&#34;" in detail
    assert 'id="event-email">&#34;&gt;&lt;script&gt;alert(&#39;to&#39;)' in detail


async def test_archive_now_brings_a_real_event_into_the_history(browser: Browser) -> None:
    cell = browser.cell
    await cell.mc(exec_url(1), "PUT", "/event-types/PASSWORD_RESET", json={"label": "Reset"})
    pushed = await cell.instances[exec_url(1)].post(
        "/nl/jsp/soaprouter.jsp",
        content=push_event_envelope(event_xml(email="real@example.com", externalId="R-1")),
        headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvent"},
    )
    assert pushed.status_code == 200, pushed.text
    (pl_id,) = outputs_of(pushed.content, "plId")
    answer = await browser.hx(
        "POST", "/events/archive", data={"external_id": "R-1", "email": "", "status": ""}
    )
    assert answer.status_code == 200, answer.text
    assert "Archiving pass done" in answer.text and f'id="event-{pl_id}"' in answer.text
    assert ">Pending</span>" in answer.text
    api = await browser.client.get(f"/api/v1/events/{pl_id}", headers=await cell.login())
    assert api.status_code == 200 and api.json()["external_id"] == "R-1"


async def test_archive_now_needs_admin_and_the_csrf_token(browser: Browser) -> None:
    refused = await browser.client.post("/events/archive", headers=HTML)
    assert refused.status_code == 403
    async with console_as(browser, "viewer") as viewer:
        page = await viewer.get("/events")
        assert page.status_code == 200 and 'id="events-archive-now"' not in page.text
        assert (await viewer.hx("POST", "/events/archive")).status_code == 403


async def test_an_event_id_beyond_64_bits_is_simply_not_found(browser: Browser) -> None:
    answer = await browser.get(f"/events/{2**64}")
    assert answer.status_code == 404 and "<html" in answer.text
