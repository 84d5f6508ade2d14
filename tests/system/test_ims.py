"""An integration written for Campaign v8.6 runs against mcsim with only its base URLs changed.

It exchanges its technical account's client id and secret at IMS with a standard OAuth client
library (authlib's requests ``OAuth2Session``, which then sends the token on every request), and
calls SOAP (zeep, from the WSDL, over that session) and REST with the access token; Adobe's JS SDK
does the same with ``ofImsBearerToken``. Real processes on loopback ports (``mcsim up``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import zeep
from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]
from lxml import etree

from execution_instance.intake.service import split_pl_id
from services.dev_credentials import IMS_CLIENT
from tests.support.stack import StackRunner, running_stack, wait_until
from tests.system.ims_integration import send_password_reset
from tests.system.test_js_sdk import (
    LOGOFF,
    LOGON,
    an_event,
    assert_pl_id,
    messages_to,
    node_modules,  # noqa: F401 - the fixture that skips without node
    push,
    sdk,
    unique_email,
    value,
)

pytestmark = pytest.mark.system

SCOPE = "openid,AdobeID,session"
REST = "/acme/campaign/mcacme/EVTPASSWORD_RESET"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRunner]:
    data = Path(tmp_path_factory.mktemp("ims")) / "data"
    with running_stack(data, "--demo") as running:
        yield running


def oauth_client(stack: StackRunner, client_id: str, secret: str) -> OAuth2Session:
    """Return the integration's OAuth session (client credentials, secret in the form as Adobe
    documents), its token fetched from mcsim's IMS."""
    client = OAuth2Session(
        client_id=client_id,
        client_secret=secret,
        scope=SCOPE,
        token_endpoint_auth_method="client_secret_post",
    )
    client.fetch_token(
        f"{stack.control_url}/ims/token/v3", grant_type="client_credentials", timeout=10
    )
    return client


def _event(email: str) -> etree._Element:
    event = etree.Element("rtEvent", type="PASSWORD_RESET", email=email, wishedChannel="0")
    ctx = etree.SubElement(event, "ctx")
    etree.SubElement(ctx, "firstName").text = "Ann"
    etree.SubElement(ctx, "resetUrl").text = "https://shop.example/reset?t=1"
    return event


def zeep_client(
    stack: StackRunner, token: str | requests.Session, schema: str = "nms:rtEvent"
) -> zeep.Client:
    """Return a zeep client whose every request (the WSDL's too) carries the Bearer token: over
    the integration's OAuth session, or a plain session with ``token``."""
    if isinstance(token, requests.Session):
        session = token
    else:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
    transport = zeep.transports.Transport(session=session)
    return zeep.Client(f"{stack.lb_url}/nl/jsp/schemawsdl.jsp?schema={schema}", transport=transport)


def admin(stack: StackRunner) -> dict[str, str]:
    """Log in to the control API as the development admin."""
    answer = httpx.post(
        f"{stack.control_url}/api/v1/auth/login",
        json={"login": "admin", "password": "admin"},
        timeout=10,
    )
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_v86_integration_exchanges_its_secret_then_calls_soap_and_rest(
    stack: StackRunner,
) -> None:
    client_id, secret = IMS_CLIENT  # printed by mcsim up once every service is ready: the
    # banner may follow the state file's "ready" by a moment
    printed = f"{client_id} / {secret}"
    assert wait_until(lambda: printed in stack.output(), timeout=10), stack.output()
    with oauth_client(stack, client_id, secret) as oauth:
        token = oauth.token["access_token"]
        assert oauth.token["token_type"] == "bearer"
        assert 86000 < oauth.token["expires_in"] <= 86400
        # SOAP through the load balancer with zeep over the OAuth session: its Bearer header,
        # an empty <sessiontoken>.
        soap = zeep_client(stack, oauth)
        instances = set()
        emails = [unique_email("zeep-ims") for _ in range(4)]
        for email in emails:
            pl_id = soap.service.PushEvent(sessiontoken="", domEvent={"_value_1": _event(email)})
            instances.add(split_pl_id(pl_id)[0])
        assert instances == {1, 2}  # every instance verified the token on its own
        # REST through the load balancer: the OAuth client sends the token, X-Api-Key its id.
        email = unique_email("rest-ims")
        body = {"email": email, "ctx": {"firstName": "Ann", "resetUrl": "https://x.test/r"}}
        created = oauth.post(f"{stack.lb_url}{REST}", json=body, headers={"X-Api-Key": client_id})
        assert created.status_code == 201, created.text
        href = created.json()["href"]
        polled = oauth.get(
            f"{stack.lb_url}/acme/campaign/{href}",
            params={"wait": 10, "until": "processed"},
            headers={"X-Api-Key": client_id},
        )
        assert polled.json()["status"] == "processed", polled.text
        assert token in oauth.token["access_token"]
        refused = oauth.post(f"{stack.lb_url}{REST}", json=body, headers={"X-Api-Key": "other"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "403003"
    for address in [*emails, email]:
        messages_to(stack, address)


def test_the_readme_integration_runs_with_only_its_base_urls_changed(stack: StackRunner) -> None:
    email = unique_email("readme-ims")
    pl_id, pkey = send_password_reset(email, ims_url=stack.control_url, campaign_url=stack.lb_url)
    assert pl_id > 0 and int(pkey) > 0
    messages_to(stack, email, count=2)


def test_the_js_sdk_pushes_with_an_ims_token_from_the_emulator(
    stack: StackRunner,
    node_modules: Path,  # noqa: F811 - the imported fixture
) -> None:
    with oauth_client(stack, *IMS_CLIENT) as oauth:
        token = oauth.token["access_token"]
    email = unique_email("sdk-ims")
    ims = {"kind": "imsBearerToken", "token": token}
    _logon, pushed, _logoff = sdk(
        stack.lb_url, ims, LOGON, push("nmsRtEvent", an_event(email)), LOGOFF
    )
    assert_pl_id(value(pushed))
    info = {"kind": "imsBearerToken", "token": token, "options": {"sessionInfo": True}}
    logon, session_info = sdk(stack.exec_url(2), info, LOGON, {"do": "sessionInfo"})
    value(logon)
    login = value(session_info)["sessionInfo"]["userInfo"]["login"]
    assert login.endswith("@techacct.adobe.com")
    # ofBearerToken: xtk:session#BearerTokenLogon exchanges the IMS token for a session.
    bearer_email = unique_email("sdk-bearer-ims")
    _logon, pushed_too = sdk(
        stack.exec_url(1),
        {"kind": "bearerToken", "token": token},
        LOGON,
        push("nmsRtEvent", an_event(bearer_email)),
    )
    assert_pl_id(value(pushed_too))
    messages_to(stack, email)
    messages_to(stack, bearer_email)


def test_the_js_sdk_is_refused_without_the_message_center_profile(
    stack: StackRunner,
    node_modules: Path,  # noqa: F811 - the imported fixture
) -> None:
    created = httpx.post(
        f"{stack.control_url}/api/v1/technical-accounts",
        json={"name": "Marketing only", "product_profiles": ["campaign - mcsim - marketing"]},
        headers=admin(stack),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    account: dict[str, Any] = created.json()
    client_id = account["technical_account"]["client_id"]
    with oauth_client(stack, client_id, account["client_secret"]) as oauth:
        token = oauth.token["access_token"]
    ims = {"kind": "imsBearerToken", "token": token}
    _logon, pushed = sdk(stack.lb_url, ims, LOGON, push("nmsRtEvent", an_event("x@example.com")))
    assert not pushed["ok"]
    assert pushed["error"]["statusCode"] == 500
    assert "campaign - mcsim - messagecenter" in pushed["error"]["detail"]


def test_rotating_a_secret_keeps_the_integration_running(stack: StackRunner) -> None:
    headers = admin(stack)
    created = httpx.post(
        f"{stack.control_url}/api/v1/technical-accounts",
        json={"name": "Rotated"},
        headers=headers,
        timeout=30,
    ).json()
    account = created["technical_account"]
    path = f"{stack.control_url}/api/v1/technical-accounts/{account['id']}/secrets"
    old_secret = created["client_secret"]
    with oauth_client(stack, account["client_id"], old_secret) as oauth:
        old_token = oauth.token["access_token"]
    added = httpx.post(path, headers=headers, timeout=30)
    assert added.status_code == 201
    new_secret = added.json()["client_secret"]
    old_uuid = account["client_secrets"][0]["uuid"]
    assert httpx.delete(f"{path}/{old_uuid}", headers=headers, timeout=30).status_code == 204
    with pytest.raises(Exception, match="invalid_client"):
        oauth_client(stack, account["client_id"], old_secret)
    with oauth_client(stack, account["client_id"], new_secret) as oauth:
        new_token = oauth.token["access_token"]
    for token in (old_token, new_token):  # a token issued before the rotation lives on
        soap = zeep_client(stack, token)
        pl_id = soap.service.PushEvent(
            sessiontoken="", domEvent={"_value_1": _event(unique_email("rotated"))}
        )
        assert pl_id > 0


def test_an_expired_token_is_refused_and_a_new_one_works(tmp_path: Path) -> None:
    env = {"MCSIM_CONTROL_IMS_TOKEN_TTL_SECONDS": "3"}
    with running_stack(tmp_path / "data", "--demo", instances=1, env=env) as stack:
        client_id, secret = IMS_CLIENT
        with oauth_client(stack, client_id, secret) as oauth:
            assert oauth.token["expires_in"] == 2
            token = oauth.token["access_token"]
            soap = zeep_client(stack, token)
            event = {"_value_1": _event(unique_email("expiring"))}
            assert soap.service.PushEvent(sessiontoken="", domEvent=event) > 0
            time.sleep(4)
            with pytest.raises(zeep.exceptions.Fault) as expired:
                soap.service.PushEvent(sessiontoken="", domEvent=event)
            assert expired.value.message.startswith("XSV-350008")
            body = {"email": "x@example.com", "ctx": {}}
            rest = httpx.post(
                f"{stack.lb_url}{REST}",
                json=body,
                headers={"authorization": f"Bearer {token}", "x-api-key": client_id},
                timeout=10,
            )
            assert rest.status_code == 401
            # No refresh token: the integration asks again with its id and secret.
            oauth.fetch_token(
                f"{stack.control_url}/ims/token/v3", grant_type="client_credentials", timeout=10
            )
            again = zeep_client(stack, oauth.token["access_token"])
            assert again.service.PushEvent(sessiontoken="", domEvent=event) > 0
