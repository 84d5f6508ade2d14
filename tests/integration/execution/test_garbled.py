"""Property: a garbled envelope never stores an event silently and always gets a SOAP answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select

from execution_instance.app import create_app
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from tests.support.live import live_server
from tests.support.soap import SOAP11, event_xml, push_event_envelope, push_events_envelope

VALID = push_event_envelope(
    event_xml(ctx='<order id="7"><item name="Pen" qty="2"/></order>', externalId="x-1")
).encode()
VALID_MANY = push_events_envelope([event_xml(email=f"u{i}@example.com") for i in range(3)]).encode()


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    data = tmp_path_factory.mktemp("garbled")
    settings = ExecutionSettings(data_dir=Path(data), event_types=["PASSWORD_RESET"], workers=0)
    app = create_app(settings)
    with live_server(app) as url:
        yield url, app


def _count(app: object) -> int:
    db = app.state.db  # type: ignore[attr-defined]
    with db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Event)).scalar_one())


@st.composite
def garbled(draw: st.DrawFn, sources: tuple[bytes, ...] = (VALID, VALID_MANY)) -> bytes:
    """One of ``sources``, damaged 1 to 4 times (bytes flipped, cut, inserted, repeated)."""
    data = bytearray(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 20))]
        elif kind == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [b"<", b">", b"&", b"<!DOCTYPE x>", b"\x00", b"]]>", b"&amp;", b"\xff\xfe"]
                )
            )
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 40))]
        if not data:
            data = bytearray(b" ")
    return bytes(data)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(garbled(), st.binary(max_size=300)))
def test_garbled_envelopes_get_a_soap_answer_and_store_only_what_they_acknowledge(
    instance: tuple[str, object], body: bytes
) -> None:
    url, app = instance
    before = _count(app)
    answer = httpx.post(
        f"{url}/nl/jsp/soaprouter.jsp",
        content=body,
        headers={"content-type": "text/xml", "SOAPAction": "nms:rtEvent#PushEvent"},
        timeout=10,
    )
    after = _count(app)
    assert answer.status_code in {200, 403, 413, 500}
    root = etree.fromstring(answer.content)
    assert root.tag == f"{{{SOAP11}}}Envelope"
    acknowledged = [e for e in root.iter() if etree.QName(e).localname == "plId"]
    if answer.status_code == 200:
        assert after - before == len(acknowledged) >= 1
    else:
        assert root.find(f".//{{{SOAP11}}}Fault") is not None
        assert after == before
