"""Generated SOAP clients against the real stack: zeep from the served WSDLs, through the LB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import zeep
from lxml import etree

from execution_instance.intake.service import split_pl_id
from services.dev_credentials import CONTROL_PLANE
from tests.support.stack import StackRunner, running_stack

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRunner]:
    data = Path(tmp_path_factory.mktemp("soap-clients")) / "data"
    with running_stack(data, "--no-demo") as running:
        for instance in (1, 2):
            answer = httpx.put(
                f"{running.exec_url(instance)}/_mc/event-types/PASSWORD_RESET",
                json={"label": "Password reset"},
                auth=CONTROL_PLANE,
                timeout=10,
            )
            assert answer.status_code == 204, answer.text
        yield running


def _event(email: str) -> etree._Element:
    event = etree.Element("rtEvent", type="PASSWORD_RESET", email=email, wishedChannel="0")
    ctx = etree.SubElement(event, "ctx")
    etree.SubElement(ctx, "firstName").text = "Ann"
    return event


def test_zeep_through_the_load_balancer_reaches_every_instance(stack: StackRunner) -> None:
    client = zeep.Client(f"{stack.lb_url}/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent")
    assert client.service._binding_options["address"] == f"{stack.lb_url}/nl/jsp/soaprouter.jsp"
    instances = set()
    for n in range(6):
        pl_id = client.service.PushEvent(
            sessiontoken="mc/mc", domEvent={"_value_1": _event(f"user{n}@example.com")}
        )
        assert isinstance(pl_id, int)
        instances.add(split_pl_id(pl_id)[0])
    assert instances == {1, 2}


def test_zeep_push_events_returns_the_ids_in_order(stack: StackRunner) -> None:
    client = zeep.Client(f"{stack.lb_url}/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent")
    wrapper = etree.Element("Events")
    for n in range(5):
        wrapper.append(_event(f"batch{n}@example.com"))
    ids = client.service.PushEvents(sessiontoken="mc/mc", domEventCollection={"_value_1": wrapper})
    assert len(ids) == 5
    (instance,) = {split_pl_id(i)[0] for i in ids}
    pks = [split_pl_id(i)[1] for i in ids]
    assert pks == sorted(pks)
    assert instance in {1, 2}


def test_a_wsdl_read_from_an_instance_points_at_the_load_balancer(stack: StackRunner) -> None:
    client = zeep.Client(f"{stack.exec_url(2)}/nl/jsp/schemawsdl.jsp?schema=nms:batchEvent")
    assert client.service._binding_options["address"] == f"{stack.lb_url}/nl/jsp/soaprouter.jsp"
    event = _event("late@example.com")
    event.tag = "batchEvent"
    pl_id = client.service.PushEvent(sessiontoken="mc/mc", domEvent={"_value_1": event})
    assert split_pl_id(pl_id)[0] in {1, 2}


def test_zeep_logon_and_server_time_on_one_instance(stack: StackRunner) -> None:
    client = zeep.Client(f"{stack.exec_url(1)}/nl/jsp/schemawsdl.jsp?schema=xtk:session")
    direct = client.create_service(
        next(iter(client.wsdl.bindings)), f"{stack.exec_url(1)}/nl/jsp/soaprouter.jsp"
    )
    result = direct.Logon(sessiontoken="", strLogin="mc", strPassword="mc", elemParameters={})
    assert result.pstrSessionToken.startswith("___")
    assert result.pstrSecurityToken.startswith("@")
    assert direct.GetServerTime(sessiontoken="").tzinfo is not None
    with pytest.raises(zeep.exceptions.Fault) as refused:
        direct.Logon(sessiontoken="", strLogin="mc", strPassword="wrong", elemParameters={})
    assert refused.value.detail is not None


def test_zeep_loads_a_compiled_schema_through_the_load_balancer(stack: StackRunner) -> None:
    client = zeep.Client(f"{stack.lb_url}/nl/jsp/schemawsdl.jsp?schema=xtk:persist")
    schema = client.service.GetEntityIfMoreRecent(
        sessiontoken="mc/mc", pk="xtk:schema|nms:rtEvent", md5="", mustExist=False
    )
    assert (etree.QName(schema).localname, schema.get("name")) == ("schema", "rtEvent")
    with pytest.raises(zeep.exceptions.Fault) as missing:
        client.service.GetEntityIfMoreRecent(
            sessiontoken="mc/mc", pk="xtk:schema|nms:nope", md5="", mustExist=True
        )
    assert "xtk:schema|nms:nope" in str(missing.value.detail.text)
