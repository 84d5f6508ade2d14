"""Security review F7: REST values XML cannot carry are 400s naming their field, never 500s."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from execution_instance.app import create_app
from execution_instance.settings import ExecutionSettings
from tests.integration.execution.conftest import InstanceFactory, stored_events
from tests.support.live import live_server

PATH = "/acme/campaign/mcacme/EVTPASSWORD_RESET"
AUTH = {"authorization": "Bearer mcsim-dev-token"}
BASE: dict[str, Any] = {"email": "ann@example.com", "ctx": {"name": "Ann"}}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"externalId": "a\u0001b"}, "externalId"),
        ({"mobileApp": {"uuid": "a\u0000"}}, "mobileApp.uuid"),
        ({"email": "ann\u000b@example.com"}, "email"),
        ({"registrationToken": "t\ufffe"}, "registrationToken"),
        ({"ctx": {"name": "A\u0002nn"}}, "ctx.name"),
        ({"ctx": {"order": {"@id": "7\u0000"}}}, "ctx.order.@id"),
    ],
)
async def test_characters_xml_cannot_carry_are_refused_with_400(
    make_instance: InstanceFactory, extra: dict[str, Any], field: str
) -> None:
    async with make_instance() as client:
        answer = await client.post(PATH, json={**BASE, **extra}, headers=AUTH)
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert (body["error"], body["field"]) == ("invalid_request", field)
        assert stored_events(client) == []


@pytest.fixture(scope="module")
def instance_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = Path(tmp_path_factory.mktemp("rest-inputs"))
    settings = ExecutionSettings(data_dir=data, event_types=["PASSWORD_RESET"], workers=0)
    with live_server(create_app(settings)) as url:
        yield url


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(max_size=40),
    key=st.sampled_from(["externalId", "email", "mobilePhone", "scheduled", "registrationToken"]),
    pkey=st.one_of(st.integers(-(2**80), 2**80).map(str), st.text(max_size=30)),
)
# Found by CI: '²' is a digit to str.isdigit() but not to int(), which raised (a 500).
@example(text="", key="externalId", pkey="²")
@example(text="", key="externalId", pkey="-٣")
# A PKey '/' makes the path end in '//', which no route takes: Starlette redirects (307) to the
# path without its last slash. Not a server error, which is what this test is about.
@example(text="", key="externalId", pkey="/")
def test_any_text_in_a_field_or_pkey_is_answered_without_a_server_error(
    instance_url: str, text: str, key: str, pkey: str
) -> None:
    bodies = [
        {**BASE, key: text},
        {**BASE, "mobileApp": {"uuid": text}},
        {**BASE, "ctx": {"name": text, "order": {"@id": text}}},
    ]
    for body in bodies:
        answer = httpx.post(instance_url + PATH, json=body, headers=AUTH, timeout=10)
        assert answer.status_code in {201, 400}, answer.text
    read = httpx.get(
        f"{instance_url}{PATH}/{quote(pkey, safe='').replace('.', '%2E') or '0'}",
        headers=AUTH,
        timeout=10,
    )
    assert read.status_code in {200, 307, 400, 404}, read.text
