"""Poison events: whatever goes wrong with one event fails that event alone, never its batch.

Security review 2026-12, F5: one push event whose ctx made the rendered custom data invalid JSON
kept its whole claimed batch pending forever. These tests run an execution instance with its
workers against the real mid-sourcing server (in-process) and against a fake one that refuses a
whole part for one malformed message, as the real one does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from execution_instance.app import create_app
from execution_instance.intake.channels import EventStatus
from execution_instance.intake.service import split_pl_id
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from midsourcing.app import create_app as create_mid_app
from midsourcing.parts.service import PartRefused, check_part
from services.delivery_protocol import parse_delivery_part
from services.dev_credentials import CONTROL_PLANE
from services.soap.envelope import Output, SoapCall, read_call, render_response
from tests.integration.midsourcing.conftest import mid_settings
from tests.support.asgi import serve
from tests.support.fake_mid import FakeMid
from tests.support.live import live_server
from tests.support.soap import event_xml, outputs_of, push_events_envelope

MC = CONTROL_PLANE  # the control instance's account on /_mc/
EVENT_TYPES = [
    "PASSWORD_RESET",
    "ORDER_CONFIRMATION",
    "CONTROL_CHARS",
    "THROWING",
    "SURROGATE",
    "HUGE",
]
FAST: dict[str, Any] = {
    "idle_poll_seconds": 0.05,
    "status_sync_seconds": 0.05,
    "handoff_retry_base_seconds": 0.05,
    "handoff_retry_max_seconds": 0.2,
}
EMAIL = {
    "from_address": "noreply@acme.test",
    "subject": "Hello <%= rtEvent.ctx.firstName %>",
    "html": "<p>Hello <%= rtEvent.ctx.firstName %></p>",
    "text": "Hello <%= rtEvent.ctx.firstName %>",
}
#: name → (event type, channel, content): the demo's push template and one per kind of poison.
TEMPLATES: dict[str, tuple[str, int, dict[str, str]]] = {
    "PASSWORD_RESET_email": ("PASSWORD_RESET", 0, EMAIL),
    "ORDER_CONFIRMATION_android": (
        "ORDER_CONFIRMATION",
        42,
        {
            "title": "Order <%= rtEvent.ctx.orderId %>",
            "body": "Thank you, <%= rtEvent.ctx.firstName %>",
            "data": '{"orderId": "<%= rtEvent.ctx.orderId %>"}',
        },
    ),
    "CONTROL_CHARS_email": (
        "CONTROL_CHARS",
        0,
        {**EMAIL, "subject": "Hi <%= String.fromCharCode(1) %><%= rtEvent.ctx.firstName %>"},
    ),
    "THROWING_email": ("THROWING", 0, {**EMAIL, "html": "<% throw new Error('no coupon') %>"}),
    "SURROGATE_email": ("SURROGATE", 0, {**EMAIL, "text": "<%= String.fromCharCode(0xD800) %>"}),
    "HUGE_email": ("HUGE", 0, {**EMAIL, "html": "<%= 'x'.repeat(6000) %>"}),
}
#: Statuses nothing changes any more (processing waits for a delivery log).
SETTLED = {EventStatus.PROCESSED, EventStatus.DELIVERY_FAILED}


async def publish_all(client: httpx.AsyncClient) -> None:
    """Publish every template of TEMPLATES on the instance behind ``client``."""
    for name, (event_type, channel, content) in TEMPLATES.items():
        answer = await client.put(
            f"/_mc/templates/{name}",
            json={"event_type": event_type, "channel": channel, "version": 1, "content": content},
            auth=MC,
        )
        assert answer.status_code == 200, answer.text


def email_event(number: int, event_type: str = "PASSWORD_RESET") -> str:
    """Return an e-mail event for victim ``number``."""
    return event_xml(
        event_type, email=f"victim{number}@example.com", ctx=f"<firstName>V{number}</firstName>"
    )


def push_event(order_id: str, token: str = "tokpoison") -> str:
    """Return the review's ORDER_CONFIRMATION android push event with ``order_id`` in its ctx."""
    return (
        f'<rtEvent type="ORDER_CONFIRMATION" wishedChannel="42" registrationToken="{token}">'
        f'<mobileApp uuid="app"/><ctx><firstName>P</firstName><orderId>{order_id}</orderId>'
        "<total>1</total></ctx></rtEvent>"
    )


def pks_of(answer: httpx.Response) -> list[int]:
    """Return the event pks a PushEvents answer acknowledged."""
    assert answer.status_code == 200, answer.text
    return [split_pl_id(int(text))[1] for text in outputs_of(answer.content, "plId")]


def events(app: Any, pks: list[int]) -> dict[int, Event]:
    """Return the stored events ``pks`` by pk."""
    with app.state.db.transaction() as session:
        found = session.execute(select(Event).where(Event.id.in_(pks))).scalars()
        return {row.id: row for row in found}


# -- the review's attack, against the real mid-sourcing server ---------------------------------


@asynccontextmanager
async def real_cell(
    tmp_path: Path, **mid_options: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Yield a client of execution instance 1 (one worker) and its app, handing over to a real
    mid-sourcing server in capture mode (both in-process)."""
    mid_app = create_mid_app(mid_settings(tmp_path / "mid", **mid_options))
    async with serve(mid_app) as mid:
        settings = ExecutionSettings(
            data_dir=tmp_path / "exec",
            event_types=EVENT_TYPES,
            midsourcing_url="http://mid",
            workers=1,
            **FAST,
        )
        app = create_app(settings, http_client=mid)
        async with serve(app) as client:
            yield client, app


async def wait_settled(app: Any, pks: list[int], within: float = 20) -> dict[int, Event]:
    """Wait until every event of ``pks`` is processed or deliveryFailed; return them."""
    deadline = time.monotonic() + within
    while True:
        rows = events(app, pks)
        if all(EventStatus(row.status) in SETTLED for row in rows.values()):
            return rows
        if time.monotonic() > deadline:
            left = {pk: EventStatus(r.status).name for pk, r in rows.items() if r.status < 2}
            raise AssertionError(f"events not settled: {left}")
        await asyncio.sleep(0.05)


async def test_the_reviews_poison_push_event_fails_alone_and_its_batch_is_delivered(
    tmp_path: Path,
) -> None:
    async with real_cell(tmp_path) as (client, app):
        await publish_all(client)
        envelope = push_events_envelope([push_event('"}x')] + [email_event(n) for n in range(20)])
        answer = await client.post(
            "/nl/jsp/soaprouter.jsp",
            content=envelope.encode(),
            headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvents"},
        )
        poison, *good = pks_of(answer)
        assert len(good) == 20
        rows = await wait_settled(app, [poison, *good])
        assert [EventStatus(rows[pk].status) for pk in good] == [EventStatus.PROCESSED] * 20
        failed = rows[poison]
        assert failed.status == EventStatus.DELIVERY_FAILED
        assert failed.template_name == "ORDER_CONFIRMATION_android"
        assert (failed.error_text or "").startswith(
            "the push data rendered by template ORDER_CONFIRMATION_android is not a JSON object: "
        )
        assert failed.claimed_by is None
        rest = await client.get(
            f"/acme/campaign/mcacme/EVTORDER_CONFIRMATION/{(1 << 56) | poison}",
            headers={"authorization": "Bearer mcsim-dev-token"},
        )
        assert rest.json()["status"] == "deliveryFailed"


async def test_a_valid_order_id_still_makes_a_push_message(tmp_path: Path) -> None:
    async with real_cell(tmp_path) as (client, app):
        await publish_all(client)
        envelope = push_events_envelope([push_event("A-42", token="tokgood"), email_event(1)])
        answer = await client.post(
            "/nl/jsp/soaprouter.jsp",
            content=envelope.encode(),
            headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvents"},
        )
        rows = await wait_settled(app, pks_of(answer))
        assert {EventStatus(row.status) for row in rows.values()} == {EventStatus.PROCESSED}


async def test_a_message_too_large_for_mid_sourcing_fails_alone(tmp_path: Path) -> None:
    async with real_cell(tmp_path, max_body_bytes=4096) as (client, app):
        await publish_all(client)
        documents = [email_event(n) for n in range(4)]
        documents.insert(2, email_event(99, "HUGE"))
        answer = await client.post(
            "/nl/jsp/soaprouter.jsp",
            content=push_events_envelope(documents).encode(),
            headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvents"},
        )
        pks = pks_of(answer)
        rows = await wait_settled(app, pks)
    huge = rows.pop(pks[2])
    assert huge.status == EventStatus.DELIVERY_FAILED
    assert huge.error_text == "mid-sourcing refused the request as too large (HTTP 413)"
    assert {EventStatus(row.status) for row in rows.values()} == {EventStatus.PROCESSED}


# -- a fake mid-sourcing server that refuses a whole part as the real one does ----------------


def refused_whole(call: SoapCall, message: str) -> httpx.Response:
    """Answer an AppendDeliveryPart with fatalError 1, as mid-sourcing refuses a whole part."""
    reply = render_response(
        call.service,
        call.method,
        [
            Output.long("deliveryPartId", 0),
            Output.integer("fatalError", 1),
            Output.string("fatalErrorMsg", message),
        ],
    )
    return httpx.Response(200, content=reply.body)


class StrictMid(FakeMid):
    """A FakeMid that answers fatalError for the whole part when one message is malformed, with
    the real server's own checks; every message it takes is reported sent at once."""

    def __init__(self) -> None:
        super().__init__()
        self.auto_sent = True
        self.refused_parts = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one SOAP call; a malformed part is fatal for all of its messages."""
        call = read_call(request.content, soap_action=request.headers.get("soapaction"))
        if call.method == "AppendDeliveryPart":
            document = call.document(1)
            assert document is not None
            try:
                check_part(parse_delivery_part(document), max_messages=10_000)
            except (ValueError, PartRefused) as exc:
                self.refused_parts += 1
                return refused_whole(call, f"the delivery part is malformed: {exc}")
        return super().handle(request)


@dataclass
class Cell:
    """An execution instance served on a loopback port, with its app and its fake mid."""

    url: str
    app: Any
    mid: StrictMid


@pytest.fixture(scope="module")
def cell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cell]:
    """Serve an execution instance (batches of 100, one worker) handing over to a StrictMid."""
    mid = StrictMid()
    http = httpx.AsyncClient(transport=mid.transport())
    settings = ExecutionSettings(
        data_dir=tmp_path_factory.mktemp("poison"),
        event_types=EVENT_TYPES,
        midsourcing_url="http://mid",
        workers=1,
        **FAST,
    )
    app = create_app(settings, http_client=http)
    with live_server(app) as url:
        for name, (event_type, channel, content) in TEMPLATES.items():
            answer = httpx.put(
                f"{url}/_mc/templates/{name}",
                json={
                    "event_type": event_type,
                    "channel": channel,
                    "version": 1,
                    "content": content,
                },
                auth=MC,
                timeout=10,
            )
            assert answer.status_code == 200, answer.text
        yield Cell(url, app, mid)


#: What each kind of event is, and what must become of it.
GOOD = ["email", "push"]
POISON = ["invalid_json", "control_chars", "throwing", "surrogate", "no_recipient"]


def _document(kind: str, number: int) -> str:
    if kind == "email":
        return email_event(number)
    if kind == "push":
        return push_event(f"A-{number}", token=f"tok{number}")
    if kind == "invalid_json":
        return push_event('"}x', token=f"tok{number}")
    event_type = {"control_chars": "CONTROL_CHARS", "throwing": "THROWING"}.get(kind, "SURROGATE")
    return email_event(number, event_type)


def _add_without_recipient(app: Any, number: int) -> int:
    """Store an e-mail event whose address is blank, as no intake of this version would, and
    return its pk (older rows, other writers: processing must not trust the intake)."""
    now = datetime.now(UTC)
    row = {
        "queue": 0,
        "event_type": "PASSWORD_RESET",
        "status": int(EventStatus.PENDING),
        "wished_channel": 0,
        "email": " ",
        "email_format": 0,
        "document": email_event(number),
        "source": "soap",
        "created_at": now,
        "next_attempt_at": now,
        "error_count": 0,
    }
    with app.state.db.transaction(write=True) as session:
        return int(session.execute(insert(Event).returning(Event.id), [row]).scalar_one())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kinds=st.lists(st.sampled_from(GOOD + POISON), min_size=1, max_size=60))
def test_poison_events_fail_alone_and_every_good_event_is_handed_over_once(
    cell: Cell, kinds: list[str]
) -> None:
    numbers = range(len(kinds))
    pushed = [(k, n) for k, n in zip(kinds, numbers, strict=True) if k != "no_recipient"]
    blank = [n for k, n in zip(kinds, numbers, strict=True) if k == "no_recipient"]
    kind_of: dict[int, str] = {}
    for number in blank:  # stored first, so that they share the next claim with the others
        kind_of[_add_without_recipient(cell.app, number)] = "no_recipient"
    if pushed:
        answer = httpx.post(
            f"{cell.url}/nl/jsp/soaprouter.jsp",
            content=push_events_envelope([_document(k, n) for k, n in pushed]).encode(),
            headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvents"},
            timeout=10,
        )
        kind_of.update(zip(pks_of(answer), (k for k, _ in pushed), strict=True))
    else:
        cell.app.state.execution.processor.notify()
    rows = _wait_settled_sync(cell.app, list(kind_of))
    for pk, kind in kind_of.items():
        row = rows[pk]
        message_ids = [m.id for m in cell.mid.messages.values() if m.event_id == (1 << 56) | pk]
        if kind in GOOD:
            assert row.status == EventStatus.PROCESSED, (kind, row.error_text)
            (message_id,) = message_ids
            assert cell.mid.received[message_id] == 1  # handed over exactly once
        else:
            assert row.status == EventStatus.DELIVERY_FAILED, kind
            assert row.error_text, kind
            assert message_ids == []  # never reached mid-sourcing
            assert row.claimed_by is None
    assert cell.mid.refused_parts == 0  # no malformed message ever joined a part


def _wait_settled_sync(app: Any, pks: list[int], within: float = 30) -> dict[int, Event]:
    deadline = time.monotonic() + within
    while True:
        rows = events(app, pks)
        if all(EventStatus(row.status) in SETTLED for row in rows.values()):
            return rows
        if time.monotonic() > deadline:
            left = {pk: EventStatus(r.status).name for pk, r in rows.items() if r.status < 2}
            raise AssertionError(f"events not settled: {left}")
        time.sleep(0.02)


def test_each_poison_kind_keeps_a_clear_reason(cell: Cell) -> None:
    kinds = ["invalid_json", "control_chars", "throwing", "surrogate"]
    answer = httpx.post(
        f"{cell.url}/nl/jsp/soaprouter.jsp",
        content=push_events_envelope([_document(k, 900 + i) for i, k in enumerate(kinds)]).encode(),
        headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvents"},
        timeout=10,
    )
    pks = pks_of(answer)
    blank = _add_without_recipient(cell.app, 999)
    cell.app.state.execution.processor.notify()
    rows = _wait_settled_sync(cell.app, [*pks, blank])
    reasons = dict(zip(kinds, (rows[pk].error_text or "" for pk in pks), strict=True))
    assert reasons["invalid_json"].startswith(
        "the push data rendered by template ORDER_CONFIRMATION_android is not a JSON object: "
    )
    assert reasons["control_chars"] == (
        "the message rendered by template CONTROL_CHARS_email cannot be handed over: "
        "its subject holds U+0001 at position 3, a character XML cannot carry"
    )
    assert "no coupon" in reasons["throwing"]
    assert reasons["surrogate"].startswith("cannot prepare the message with template SURROGATE_")
    assert rows[blank].error_text == (
        "the message rendered by template PASSWORD_RESET_email cannot be handed over: "
        "no recipient: the email address is empty"
    )
    assert rows[pks[0]].template_name == "ORDER_CONFIRMATION_android"


# -- a part refused whole, and an unexpected error while handing one over ----------------------


@asynccontextmanager
async def fake_cell(tmp_path: Path, mid: FakeMid) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """Yield a client of execution instance 1 (one worker) handing over to ``mid``, and its app."""
    http = httpx.AsyncClient(transport=mid.transport())
    settings = ExecutionSettings(
        data_dir=tmp_path, event_types=EVENT_TYPES, midsourcing_url="http://mid", workers=1, **FAST
    )
    app = create_app(settings, http_client=http)
    async with serve(app) as client:
        await publish_all(client)
        yield client, app
    await http.aclose()


async def push_all(client: httpx.AsyncClient, documents: list[str]) -> list[int]:
    """Push ``documents`` in one PushEvents call; return their pks."""
    answer = await client.post(
        "/nl/jsp/soaprouter.jsp",
        content=push_events_envelope(documents).encode(),
        headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvents"},
    )
    return pks_of(answer)


class PickyMid(StrictMid):
    """Refuses a whole part for one message it will not take (a rule the sender cannot know)."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer fatalError for a part holding a message to ``picky@…``."""
        call = read_call(request.content, soap_action=request.headers.get("soapaction"))
        document = call.document(1) if call.method == "AppendDeliveryPart" else None
        if document is not None:
            part = parse_delivery_part(document)
            picky = [i for i, m in enumerate(part.messages) if m.to.startswith("picky@")]
            if picky:
                self.refused_parts += 1
                return refused_whole(call, f"message {picky[0]}: not taken here")
        return super().handle(request)


async def test_a_part_refused_whole_is_halved_until_the_refused_message_is_alone(
    tmp_path: Path,
) -> None:
    mid = PickyMid()
    async with fake_cell(tmp_path, mid) as (client, app):
        documents = [email_event(n) for n in range(10)]
        documents[6] = event_xml(email="picky@example.com")
        pks = await push_all(client, documents)
        rows = await wait_settled(app, pks)
    refused = rows[pks[6]]
    assert refused.status == EventStatus.DELIVERY_FAILED
    assert refused.error_text == "message 0: not taken here"
    assert refused.template_name == "PASSWORD_RESET_email"
    others = [pk for pk in pks if pk != pks[6]]
    assert {EventStatus(rows[pk].status) for pk in others} == {EventStatus.PROCESSED}
    assert sorted(mid.received.values()) == [1] * 9  # each handed over exactly once
    assert 1 <= mid.refused_parts <= 4  # only the halves holding it: 10 → 5 → 2 → 1


class ExplodingMid(StrictMid):
    """The first hand-over fails with an error that is not a connection or SOAP error."""

    def __init__(self) -> None:
        super().__init__()
        self.explosions = 1

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Raise once on AppendDeliveryPart (a bug somewhere below the client), then answer."""
        if self.explosions and b"AppendDeliveryPart" in request.content:
            self.explosions -= 1
            raise RuntimeError("unexpected bug below the delivery client")
        return super().handle(request)


async def test_an_unexpected_hand_over_error_releases_the_events_for_a_retry(
    tmp_path: Path,
) -> None:
    mid = ExplodingMid()
    # With a lease of 60 s, events left claimed would not be retaken within the test.
    async with fake_cell(tmp_path, mid) as (client, app):
        pks = await push_all(client, [email_event(n) for n in range(5)])
        rows = await wait_settled(app, pks, within=10)
    assert mid.explosions == 0
    assert {EventStatus(row.status) for row in rows.values()} == {EventStatus.PROCESSED}
    assert {row.error_count for row in rows.values()} == {1}  # one retry, with backoff
    assert sorted(mid.received.values()) == [1] * 5
