"""Property (issue 17 item 4): every SOAP method of the execution instance and of mid-sourcing,
sent valid then damaged in every way, gets a SOAP answer (an envelope, a fault when refused)
and never a bare server error; what a refused call would have stored (events, messages) is not
stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select

from execution_instance.app import create_app as create_execution
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import Event
from midsourcing.app import create_app as create_mid
from midsourcing.settings import MidSettings
from midsourcing.tables import Message
from services.dev_credentials import TECHNICAL_TOKEN
from tests.integration.execution.test_garbled import garbled
from tests.integration.midsourcing.support import append_envelope, email, logs_envelope, part
from tests.support.live import live_server
from tests.support.soap import SOAP11, logon_envelope

ROUTER = "/nl/jsp/soaprouter.jsp"


def _call(service: str, method: str, *params: tuple[str, str]) -> bytes:
    inner = "".join(f"<urn:{name}>{value}</urn:{name}>" for name, value in params)
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP11}" xmlns:urn="urn:{service}"><soapenv:Body>'
        f"<urn:{method}><urn:sessiontoken>mc/mc</urn:sessiontoken>{inner}</urn:{method}>"
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


QUERY = (
    '<queryDef schema="nms:rtEvent" operation="select"><select><node expr="@id"/>'
    '<node expr="@type"/></select><where><condition expr="@id &gt; 0"/></where></queryDef>'
)
#: A valid call of every method the execution instance serves (the pushes have their own test).
EXECUTION_METHODS: dict[str, bytes] = {
    "xtk:session#Logon": logon_envelope("mc", "mc").encode(),
    "xtk:session#Logoff": _call("xtk:session", "Logoff"),
    "xtk:session#GetServerTime": _call("xtk:session", "GetServerTime"),
    "xtk:session#BearerTokenLogon": _call(
        "xtk:session", "BearerTokenLogon", ("bearerToken", TECHNICAL_TOKEN)
    ),
    "xtk:session#GetUserInfo": _call("xtk:session", "GetUserInfo"),
    "xtk:session#GetOption": _call("xtk:session", "GetOption", ("name", "XtkDatabaseId")),
    "xtk:session#GetModifiedEntities": _call(
        "xtk:session", "GetModifiedEntities", ("entities", "<cache><schema/></cache>")
    ),
    "xtk:persist#GetEntityIfMoreRecent": _call(
        "xtk:persist",
        "GetEntityIfMoreRecent",
        ("pk", "xtk:schema|nms:rtEvent"),
        ("md5", ""),
        ("mustExist", "false"),
    ),
    "xtk:queryDef#ExecuteQuery": _call("xtk:queryDef", "ExecuteQuery", ("entity", QUERY)),
}
MID_METHODS: dict[str, bytes] = {
    "nms:delivery#AppendDeliveryPart": append_envelope(part(email("ann@example.com"))).encode(),
    "nms:delivery#GetDeliveryLogs": logs_envelope().encode(),
}


@pytest.fixture(scope="module")
def execution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    data = Path(tmp_path_factory.mktemp("methods"))
    app = create_execution(
        ExecutionSettings(data_dir=data, event_types=["PASSWORD_RESET"], workers=0)
    )
    with live_server(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def mid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    app = create_mid(MidSettings(data_dir=Path(tmp_path_factory.mktemp("mid-methods"))))
    with live_server(app) as url:
        yield url, app


def _count(app: Any, table: Any) -> int:
    with app.state.db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def _check(answer: httpx.Response) -> etree._Element:
    assert answer.status_code in {200, 403, 413, 415, 500}, answer.text[:300]
    root = etree.fromstring(answer.content)
    assert root.tag == f"{{{SOAP11}}}Envelope", answer.text[:300]
    if answer.status_code != 200:
        assert root.find(f".//{{{SOAP11}}}Fault") is not None, answer.text[:300]
    return root


def _post(url: str, action: str, body: bytes) -> httpx.Response:
    headers = {"content-type": "text/xml", "SOAPAction": action}
    return httpx.post(f"{url}{ROUTER}", content=body, headers=headers, timeout=10)


@pytest.mark.parametrize("action", sorted(EXECUTION_METHODS))
def test_each_execution_method_answers_its_valid_call(
    execution: tuple[str, Any], action: str
) -> None:
    url, _ = execution
    answer = _post(url, action, EXECUTION_METHODS[action])
    assert answer.status_code == 200, answer.text[:500]


@pytest.mark.parametrize("action", sorted(MID_METHODS))
def test_each_mid_sourcing_method_answers_its_valid_call(mid: tuple[str, Any], action: str) -> None:
    url, _ = mid
    answer = _post(url, action, MID_METHODS[action].replace(b"mc/mc", b"mid/mid"))
    assert answer.status_code == 200, answer.text[:500]


EXAMPLES = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)


@EXAMPLES
@given(
    action=st.sampled_from(sorted(EXECUTION_METHODS)),
    data=st.data(),
)
def test_damaged_calls_of_every_method_get_a_soap_answer_and_store_no_event(
    execution: tuple[str, Any], action: str, data: st.DataObject
) -> None:
    url, app = execution
    body = data.draw(garbled((EXECUTION_METHODS[action],)))
    before = _count(app, Event)
    _check(_post(url, action, body))
    assert _count(app, Event) == before  # none of these methods stores an event


@EXAMPLES
@given(action=st.sampled_from(sorted(MID_METHODS)), data=st.data())
def test_damaged_delivery_calls_get_a_soap_answer_and_store_only_what_they_accept(
    mid: tuple[str, Any], action: str, data: st.DataObject
) -> None:
    url, app = mid
    valid = MID_METHODS[action].replace(b"mc/mc", b"mid/mid")
    body = data.draw(garbled((valid,)))
    before = _count(app, Message)
    root = _check(_post(url, action, body))
    accepted = [e for e in root.iter() if etree.QName(e).localname == "deliveryPartId"]
    if not accepted:
        assert _count(app, Message) == before
