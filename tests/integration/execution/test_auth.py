"""Authentication as DESIGN §3.2 says: bearer, session tokens, login/password, zones."""

from __future__ import annotations

import httpx

from services.auth.zones import SecurityZone
from services.dev_credentials import CONTROL_PLANE
from tests.integration.execution.conftest import InstanceFactory, soap, stored_events
from tests.support.soap import fault_of, logon_envelope, outputs_of, push_event_envelope

PUSH = "nms:rtEvent#PushEvent"


async def _logon(
    client: httpx.AsyncClient, login: str = "mc", password: str = "mc"
) -> tuple[str, str]:
    answer = await soap(client, logon_envelope(login, password), action="xtk:session#Logon")
    assert answer.status_code == 200, answer.text
    (session,) = outputs_of(answer.content, "pstrSessionToken")
    (security,) = outputs_of(answer.content, "pstrSecurityToken")
    return session, security


async def test_logon_returns_campaign_shaped_tokens_and_session_info(
    client: httpx.AsyncClient,
) -> None:
    answer = await soap(client, logon_envelope("mc", "mc"), action="xtk:session#Logon")
    assert answer.status_code == 200, answer.text
    (session,) = outputs_of(answer.content, "pstrSessionToken")
    (security,) = outputs_of(answer.content, "pstrSecurityToken")
    assert session.startswith("___")
    assert security.startswith("@")
    assert 'login="mc"' in answer.text
    assert 'sessionTimeOut="86400"' in answer.text


async def test_bearer_technical_token_with_an_empty_session_token(
    client: httpx.AsyncClient,
) -> None:
    envelope = push_event_envelope(token="")
    ok = await soap(client, envelope, action=PUSH, authorization="Bearer mcsim-dev-token")
    assert ok.status_code == 200, ok.text
    bad = await soap(client, envelope, action=PUSH, authorization="Bearer nope")
    assert bad.status_code == 500
    assert "Invalid login or password" in fault_of(bad.content)["detail"]
    assert len(stored_events(client)) == 1


async def test_session_cookie_with_security_token_header(client: httpx.AsyncClient) -> None:
    session, security = await _logon(client)
    envelope = push_event_envelope(token="")
    ok = await soap(
        client,
        envelope,
        action=PUSH,
        cookie=f"__sessiontoken={session}",
        **{"x-security-token": security},
    )
    assert ok.status_code == 200, ok.text
    wrong = await soap(
        client,
        envelope,
        action=PUSH,
        cookie=f"__sessiontoken={session}",
        **{"x-security-token": "@forged"},
    )
    assert fault_of(wrong.content)["faultstring"].startswith("XSV-350008")


async def test_session_token_alone_in_the_body_where_the_zone_allows_it(
    make_instance: InstanceFactory,
) -> None:
    strict = SecurityZone(name="strict", networks=["127.0.0.0/8"], allow_user_password=True)
    async with make_instance() as relaxed_client:
        session, _ = await _logon(relaxed_client)
        ok = await soap(relaxed_client, push_event_envelope(token=session), action=PUSH)
        assert ok.status_code == 200, ok.text
    async with make_instance(security_zones=[strict]) as strict_client:
        session, _ = await _logon(strict_client)
        refused = await soap(strict_client, push_event_envelope(token=session), action=PUSH)
        fault = fault_of(refused.content)
        assert fault["faultstring"].startswith("XSV-350008")
        assert "sessionTokenOnly" in fault["detail"]


async def test_a_token_from_instance_one_is_refused_by_instance_two(
    make_instance: InstanceFactory, tmp_path_factory: object
) -> None:
    async with make_instance(instance_id=1) as one:
        session, _ = await _logon(one)
    async with make_instance(instance_id=2) as two:
        answer = await soap(two, push_event_envelope(token=session), action=PUSH)
        events = stored_events(two)
    fault = fault_of(answer.content)
    assert fault["faultstring"] == "XSV-350008 Session has expired or is invalid. Please reconnect."
    assert "execution instance 2" in fault["detail"]
    assert "load balancer" in fault["detail"]
    assert "login/password" in fault["detail"]
    assert events == []


async def test_logoff_ends_the_session(client: httpx.AsyncClient) -> None:
    session, _ = await _logon(client)
    envelope = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<Logoff xmlns="urn:xtk:session"><sessiontoken>{session}</sessiontoken></Logoff>'
        "</s:Body></s:Envelope>"
    )
    off = await soap(client, envelope, action="xtk:session#Logoff")
    assert off.status_code == 200, off.text
    after = await soap(client, push_event_envelope(token=session), action=PUSH)
    assert fault_of(after.content)["faultstring"].startswith("XSV-350008")


async def test_zone_rules_for_login_password_and_empty_passwords(
    make_instance: InstanceFactory,
) -> None:
    no_password = SecurityZone(name="tokens-only", networks=["127.0.0.1/32"])
    no_empty = SecurityZone(name="lan", networks=["127.0.0.1/32"], allow_user_password=True)
    async with make_instance(security_zones=[no_password]) as client:
        refused = await soap(client, push_event_envelope(token="mc/mc"), action=PUSH)
        fault = fault_of(refused.content)
        assert fault["faultstring"] == (
            "Error while reading parameters of method 'PushEvent' of service 'nms:rtEvent'."
        )
        assert "allowUserPassword" in fault["detail"]
    async with make_instance(security_zones=[no_empty]) as client:
        assert (await soap(client, push_event_envelope(token="mc/mc"), action=PUSH)).is_success
        empty = await soap(client, push_event_envelope(token="mc/"), action=PUSH)
        assert "empty passwords" in fault_of(empty.content)["detail"]


async def test_callers_outside_every_zone_get_403(make_instance: InstanceFactory) -> None:
    elsewhere = SecurityZone(name="office", networks=["192.0.2.0/24"], allow_user_password=True)
    async with make_instance(security_zones=[elsewhere], trusted_proxies=[]) as client:
        answer = await soap(client, push_event_envelope(), action=PUSH)
        assert answer.status_code == 403
        assert fault_of(answer.content)["faultstring"].startswith("XSV-350013")
        assert stored_events(client) == []


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    make_instance: InstanceFactory,
) -> None:
    office = SecurityZone(name="office", networks=["192.0.2.0/24"], allow_user_password=True)
    async with make_instance(security_zones=[office], trusted_proxies=["127.0.0.1/32"]) as client:
        # ASGITransport's peer is 127.0.0.1: a trusted proxy forwarding an office caller.
        ok = await soap(
            client, push_event_envelope(), action=PUSH, **{"x-forwarded-for": "192.0.2.7"}
        )
        assert ok.status_code == 200, ok.text
    async with make_instance(security_zones=[office], trusted_proxies=[]) as client:
        spoofed = await soap(
            client, push_event_envelope(), action=PUSH, **{"x-forwarded-for": "192.0.2.7"}
        )
        assert spoofed.status_code == 403


async def test_repeated_failed_logons_are_throttled(client: httpx.AsyncClient) -> None:
    for _ in range(5):
        answer = await soap(client, push_event_envelope(token="mc/wrong"), action=PUSH)
        assert "Invalid login or password" in fault_of(answer.content)["detail"]
    locked = await soap(client, push_event_envelope(token="mc/mc"), action=PUSH)
    fault = fault_of(locked.content)
    assert fault["faultstring"].startswith("Too many failed logons")
    assert fault["detail"] == "retry in 60 s"
    assert stored_events(client) == []


async def test_get_server_time_is_anonymous(client: httpx.AsyncClient) -> None:
    envelope = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<GetServerTime xmlns="urn:xtk:session"><sessiontoken/></GetServerTime>'
        "</s:Body></s:Envelope>"
    )
    answer = await soap(client, envelope)
    assert answer.status_code == 200, answer.text
    (moment,) = outputs_of(answer.content, "ptmServerTime")
    assert moment.endswith("Z")


async def test_operators_and_tokens_pushed_through_the_control_plane(
    client: httpx.AsyncClient,
) -> None:
    admin = CONTROL_PLANE
    put = await client.put("/_mc/operators/mc1", json={"password": "s3cret"}, auth=admin)
    assert put.status_code == 204
    assert (await soap(client, push_event_envelope(token="mc1/s3cret"), action=PUSH)).is_success
    token = "tok-" + "x" * 32
    added = await client.post("/_mc/technical-tokens", json={"token": token}, auth=admin)
    assert added.status_code == 204
    envelope = push_event_envelope(token="")
    ok = await soap(client, envelope, action=PUSH, authorization=f"Bearer {token}")
    assert ok.is_success
    revoked = await client.post("/_mc/technical-tokens/revoke", json={"token": token}, auth=admin)
    assert revoked.status_code == 204
    after = await soap(client, envelope, action=PUSH, authorization=f"Bearer {token}")
    assert after.status_code == 500
    assert (await client.delete("/_mc/operators/mc1", auth=admin)).status_code == 204
    gone = await soap(client, push_event_envelope(token="mc1/s3cret"), action=PUSH)
    assert "Invalid login or password" in fault_of(gone.content)["detail"]
