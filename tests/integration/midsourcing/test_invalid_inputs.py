"""Security review F7: out-of-range ids and offsets, huge searches are 400s, never 500s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from midsourcing.app import create_app
from tests.integration.midsourcing.conftest import mid_settings
from tests.support.live import live_server

HUGE = "99999999999999999999"


@pytest.fixture(scope="module")
def mid_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = Path(tmp_path_factory.mktemp("mid-inputs"))
    with live_server(create_app(mid_settings(data))) as url:
        yield url


def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert body["field"].endswith(field)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/messages", {"offset": "100000000000000000000"}, "offset"),
        (f"/api/v1/messages/{HUGE}", {}, "message_id"),
        (f"/api/v1/messages/{HUGE}/raw", {}, "message_id"),
        ("/api/v1/messages", {"q": "x" * 60_000}, "q"),
        ("/api/v1/quarantine", {"offset": "100000000000000000000"}, "offset"),
        ("/api/v1/messages", {"recipient": "x" * 60_000}, "recipient"),
        ("/api/v1/messages", {"q": "a\x00b"}, "q"),
        ("/", {"q": "x" * 60_000}, "q"),
        ("/", {"offset": "100000000000000000000"}, "offset"),
        (f"/messages/{HUGE}", {}, "message_id"),
        ("/quarantine", {"address": "x" * 60_000}, "address"),
        ("/quarantine", {"offset": "100000000000000000000"}, "offset"),
    ],
)
def test_the_reviews_requests_are_refused_with_400(
    mid_url: str, path: str, params: dict[str, str], field: str
) -> None:
    _refused(httpx.get(mid_url + path, params=params, timeout=10), field)


def test_a_huge_delete_is_refused_too(mid_url: str) -> None:
    _refused(httpx.delete(f"{mid_url}/api/v1/messages/{HUGE}", timeout=10), "message_id")


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offset=st.integers(min_value=-(2**70), max_value=2**70),
    pk=st.integers(min_value=-(2**70), max_value=2**70),
    q=st.one_of(st.text(max_size=50), st.text(min_size=900, max_size=1100)),
)
def test_any_offset_id_or_search_text_is_answered_without_a_server_error(
    mid_url: str, offset: int, pk: int, q: str
) -> None:
    answers = [
        httpx.get(f"{mid_url}/api/v1/messages", params={"offset": offset, "q": q}, timeout=10),
        httpx.get(f"{mid_url}/api/v1/messages/{pk}", timeout=10),
        httpx.get(f"{mid_url}/", params={"q": q, "offset": offset}, timeout=10),
    ]
    for answer in answers:
        assert answer.status_code in {200, 400, 404}, (answer.request.url, answer.text)
