"""Adobe's Campaign JS SDK (@adobe/acc-js-sdk 1.2.0) and npm's soap package against the real stack.

The Node clients live in ``tests/node`` (``make test`` runs ``make node-deps``, i.e. ``npm ci``
there). Each test runs one small Node script that uses the SDK as Adobe's docs and sample 600 do
and prints one JSON object. The tests are skipped only when ``node``/``npm`` are missing or
node is older than 20.19.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from execution_instance.intake.service import split_pl_id
from services.dev_credentials import CONTROL_PLANE
from tests.support.stack import StackRunner, running_stack, wait_until

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
README = Path(__file__).resolve().parents[2] / "README.md"
TECHNICAL_TOKEN = "mcsim-dev-token"  # the development stack's technical token
SAMPLE_600 = "600 - message center - push event.js"
MIN_NODE = (20, 19)  # jsdom 29, the SDK's DOM, needs ^20.19.0 || ^22.13.0 || >=24


def _node_problem() -> str | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return (
            "node/npm not found: install Node.js 20.19+ and npm, then `make node-deps`, "
            "to run the Adobe JS SDK tests"
        )
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    found = tuple(int(part) for part in version.lstrip("v").split(".")[:2])
    if found < MIN_NODE:
        return f"node {version} is older than 20.19, which the SDK's jsdom 29 needs"
    return None


pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """Return tests/node/node_modules: skip without node, fail if `make node-deps` did not run."""
    problem = _node_problem()
    if problem is not None:
        pytest.skip(problem)
    installed = NODE_DIR / "node_modules"
    for package in ("@adobe/acc-js-sdk", "soap"):
        if not (installed / package / "package.json").exists():
            pytest.fail(f"{installed / package} is missing: run `make node-deps` (npm ci)")
    return installed


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[StackRunner]:
    data = Path(tmp_path_factory.mktemp("js-sdk")) / "data"
    with running_stack(data, "--demo") as running:
        yield running


def _env(**extra: str) -> dict[str, str]:
    # axios honours the proxy variables; the stack is on loopback.
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {k: v for k, v in os.environ.items() if k.lower() not in proxies}
    return {**env, **extra}


def node(
    script: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``tests/node/<script>`` with ``args`` and return the finished process."""
    return subprocess.run(
        ["node", script, *args],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=90,
        env=env or _env(),
        check=False,
    )


def node_json(script: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run a script that takes a JSON spec and prints one JSON object; return that object."""
    done = node(script, json.dumps(spec))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def sdk(url: str, connection: dict[str, Any], *steps: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``steps`` through one SDK client and return each step's outcome."""
    output = node_json("sdk_flow.js", {"url": url, "connection": connection, "steps": list(steps)})
    outcomes: list[dict[str, Any]] = output["steps"]
    return outcomes


def value(outcome: dict[str, Any]) -> Any:
    """Return a step's value, failing with the SDK's error when the step failed."""
    assert outcome["ok"], f"{outcome['do']} failed: {json.dumps(outcome['error'], indent=1)}"
    return outcome["value"]


SESSION_TOKEN = {"kind": "sessionToken", "token": "mc/mc"}
LOGON = {"do": "logon"}
LOGOFF = {"do": "logoff"}


def push(schema: str, event: dict[str, Any], method: str = "pushEvent") -> dict[str, Any]:
    """Return the step that calls ``NLWS.<schema>.<method>(event)``."""
    return {"do": "call", "schema": schema, "method": method, "args": [event]}


def an_event(email: str, **fields: Any) -> dict[str, Any]:
    """Return a PASSWORD_RESET event as SimpleJson (``$name``: a ctx element, as Adobe's docs)."""
    ctx = {"$firstName": "Ann", "$resetUrl": "https://shop.example/reset?t=42"}
    return {"wishedChannel": 0, "type": "PASSWORD_RESET", "email": email, "ctx": ctx, **fields}


def unique_email(label: str) -> str:
    """Return an address no other test uses."""
    return f"{label}-{uuid.uuid4().hex[:8]}@example.com"


def assert_pl_id(pl_id: Any) -> tuple[int, int]:
    """Check that the SDK returned a plId as int64 outputs are returned: a decimal string."""
    assert isinstance(pl_id, str), pl_id
    assert re.fullmatch(r"-?\d+", pl_id), pl_id
    return split_pl_id(int(pl_id))


def messages_to(stack: StackRunner, email: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait until mid-sourcing captured ``count`` messages to ``email``; return them."""
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        answer = httpx.get(
            f"{stack.mid_url}/api/v1/messages", params={"recipient": email}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        found[:] = answer.json()["messages"]
        return len(found) >= count

    assert wait_until(arrived, timeout=30, interval=0.2), found
    return found


# -- the README's example -------------------------------------------------------------------


def test_the_readme_example_is_the_script_tests_run() -> None:
    script = (NODE_DIR / "push_event.js").read_text()
    section = README.read_text().split("## Adobe's JavaScript SDK", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```js\n(.*?)```", section, flags=re.DOTALL)
    assert script in blocks


def test_readme_example_pushes_through_the_load_balancer_to_mid_sourcing(
    stack: StackRunner,
) -> None:
    email = unique_email("readme")
    done = node("push_event.js", email, env=_env(MCSIM_URL=stack.lb_url))
    assert done.returncode == 0, done.stdout + done.stderr
    pl_id = done.stdout.strip()
    instance, _pk = assert_pl_id(pl_id)
    assert instance in {1, 2}
    (message,) = messages_to(stack, email)
    assert message["eventId"] == pl_id
    assert message["eventType"] == "PASSWORD_RESET"
    assert message["subject"] == "Reset your password, Ann"


# -- ofSessionToken("mc/mc"): Adobe's Message Center mode -----------------------------------


def test_session_token_logon_and_logoff_send_nothing(stack: StackRunner) -> None:
    logon, logged, info, logoff = sdk(
        stack.lb_url, SESSION_TOKEN, LOGON, {"do": "isLogged"}, {"do": "sessionInfo"}, LOGOFF
    )
    value(logon)
    assert value(logged) is True
    assert value(info)["sessionInfo"] is None
    value(logoff)


def test_batch_event_push_event(stack: StackRunner) -> None:
    # The SDK names the event's root after the parameter: <domEvent> (wire study §4.2).
    email = unique_email("batch")
    _logon, pushed = sdk(stack.lb_url, SESSION_TOKEN, LOGON, push("nmsBatchEvent", an_event(email)))
    assert assert_pl_id(value(pushed))[0] in {1, 2}
    (message,) = messages_to(stack, email)
    assert message["eventId"] == value(pushed)


def test_batch_event_push_event_naming_its_schema(stack: StackRunner) -> None:
    # With `xtkschema`, the SDK names the event's root after the schema: <batchEvent xtkschema=…>.
    email = unique_email("batchx")
    event = {"xtkschema": "nms:batchEvent", **an_event(email)}
    _logon, pushed = sdk(stack.lb_url, SESSION_TOKEN, LOGON, push("nmsBatchEvent", event))
    assert assert_pl_id(value(pushed))[0] in {1, 2}
    assert messages_to(stack, email)[0]["eventId"] == value(pushed)


def test_push_events_returns_the_first_pl_id(stack: StackRunner) -> None:
    emails = [unique_email(f"many{n}") for n in range(3)]
    collection = {"rtEvent": [an_event(email) for email in emails]}
    _logon, pushed = sdk(
        stack.lb_url, SESSION_TOKEN, LOGON, push("nmsRtEvent", collection, "pushEvents")
    )
    first = value(pushed)
    assert_pl_id(first)
    sent = [messages_to(stack, email)[0] for email in emails]
    assert sent[0]["eventId"] == first
    assert [split_pl_id(int(m["eventId"]))[0] for m in sent] == [split_pl_id(int(first))[0]] * 3


def test_a_wrong_password_in_the_session_token_is_refused(stack: StackRunner) -> None:
    wrong = {"kind": "sessionToken", "token": "mc/not-the-password"}
    _logon, pushed = sdk(stack.lb_url, wrong, LOGON, push("nmsRtEvent", an_event("x@example.com")))
    assert not pushed["ok"]
    error = pushed["error"]
    assert error["statusCode"] == 500
    assert error["errorCode"] != "SDK-000012"  # credentials refused, not a session expired
    assert "Invalid login or password" in (error["detail"] or "") + error["message"]


# -- the other credential types ---------------------------------------------------------------


def test_user_and_password_logon_and_logoff(stack: StackRunner) -> None:
    credentials = {"kind": "userAndPassword", "user": "mc", "password": "mc"}
    logon, info, tokens, logoff, after = sdk(
        stack.exec_url(1),
        credentials,
        LOGON,
        {"do": "sessionInfo"},
        {"do": "tokens"},
        LOGOFF,
        push("nmsRtEvent", an_event("late@example.com")),
    )
    value(logon)
    assert value(info)["operator"] == "mc"
    assert value(info)["sessionInfo"]["serverInfo"] is not None
    assert value(tokens)["sessionToken"].startswith("___")
    value(logoff)
    assert after["ok"] is False  # the SDK refuses calls after logoff, locally
    assert after["error"]["errorCode"] == "SDK-000010"


def test_user_and_password_push_event(stack: StackRunner) -> None:
    # Session tokens are local to the instance that issued them (as in Campaign): one instance.
    credentials = {"kind": "userAndPassword", "user": "mc", "password": "mc"}
    email = unique_email("logon")
    _logon, pushed, logoff = sdk(
        stack.exec_url(1), credentials, LOGON, push("nmsRtEvent", an_event(email)), LOGOFF
    )
    assert assert_pl_id(value(pushed))[0] == 1
    value(logoff)
    messages_to(stack, email)


def test_a_wrong_password_fails_logon(stack: StackRunner) -> None:
    credentials = {"kind": "userAndPassword", "user": "mc", "password": "wrong"}
    logon, pushed = sdk(stack.lb_url, credentials, LOGON, push("nmsRtEvent", an_event("x@x.com")))
    assert not logon["ok"]
    error = logon["error"]
    # Campaign answers faults with HTTP 500: the SDK then reports the reason phrase and keeps
    # the fault's XML in `detail` (errorCode stays empty).
    assert error["statusCode"] == 500
    assert "xtk:session#Logon" in error["message"]
    assert "Invalid login or password" in (error["detail"] or "") + error["message"]
    assert pushed["error"]["errorCode"] == "SDK-000010"  # not logged on


def test_bearer_token_logon(stack: StackRunner) -> None:
    credentials = {"kind": "bearerToken", "token": TECHNICAL_TOKEN}
    email = unique_email("bearer")
    logon, info, pushed, logoff = sdk(
        stack.exec_url(2),
        credentials,
        LOGON,
        {"do": "sessionInfo"},
        push("nmsRtEvent", an_event(email)),
        LOGOFF,
    )
    value(logon)
    assert value(info)["sessionInfo"]["userInfo"] is not None
    assert assert_pl_id(value(pushed))[0] == 2
    value(logoff)
    messages_to(stack, email)


def test_ims_bearer_token_through_the_load_balancer(stack: StackRunner) -> None:
    credentials = {"kind": "imsBearerToken", "token": TECHNICAL_TOKEN}
    email = unique_email("ims")
    _logon, pushed, ping = sdk(
        stack.lb_url, credentials, LOGON, push("nmsRtEvent", an_event(email)), {"do": "ping"}
    )
    assert_pl_id(value(pushed))
    assert value(ping)["status"] == "OK"
    messages_to(stack, email)


def test_ims_bearer_token_with_session_info(stack: StackRunner) -> None:
    credentials = {
        "kind": "imsBearerToken",
        "token": TECHNICAL_TOKEN,
        "options": {"sessionInfo": True},
    }
    logon, info = sdk(stack.exec_url(1), credentials, LOGON, {"do": "sessionInfo"})
    value(logon)
    assert value(info)["sessionInfo"]["userInfo"] is not None


def test_a_wrong_technical_token_is_refused(stack: StackRunner) -> None:
    (logon,) = sdk(stack.exec_url(1), {"kind": "bearerToken", "token": "not-a-token"}, LOGON)
    assert not logon["ok"]
    assert "xtk:session#BearerTokenLogon" in logon["error"]["message"]
    assert "Invalid login or password" in logon["error"]["detail"]
    ims = {"kind": "imsBearerToken", "token": "not-a-token"}
    _logon, pushed = sdk(stack.lb_url, ims, LOGON, push("nmsRtEvent", an_event("x@example.com")))
    assert not pushed["ok"]
    assert pushed["error"]["statusCode"] == 500
    assert "Invalid login or password" in pushed["error"]["detail"]


def test_an_invalid_event_is_a_fault_naming_the_problem(stack: StackRunner) -> None:
    event = {"type": "NO_SUCH_TYPE", "email": "x@example.com", "ctx": {}}
    _logon, pushed = sdk(stack.lb_url, SESSION_TOKEN, LOGON, push("nmsRtEvent", event))
    assert not pushed["ok"]
    assert "SOP-330011" in pushed["error"]["detail"]
    assert "unknown event type 'NO_SUCH_TYPE'" in pushed["error"]["detail"]


def test_an_unknown_session_is_reported_as_expired(stack: StackRunner) -> None:
    unknown = {
        "kind": "sessionAndSecurityToken",
        "sessionToken": "___0123456789abcdef",
        "securityToken": "@0123456789abcdef==",
    }
    _logon, pushed = sdk(stack.lb_url, unknown, LOGON, push("nmsRtEvent", an_event("x@x.com")))
    assert not pushed["ok"]
    assert pushed["error"]["errorCode"] == "SDK-000012"
    assert pushed["error"]["statusCode"] == 401


def test_a_session_closed_by_logoff_is_reported_as_expired(stack: StackRunner) -> None:
    credentials = {"kind": "userAndPassword", "user": "mc", "password": "mc"}
    _logon, tokens, pushed, logoff = sdk(
        stack.exec_url(1),
        credentials,
        LOGON,
        {"do": "tokens"},
        push("nmsRtEvent", an_event(unique_email("before"))),
        LOGOFF,
    )
    assert_pl_id(value(pushed))
    value(logoff)
    stale = {"kind": "sessionAndSecurityToken", **value(tokens)}
    _logon, again = sdk(
        stack.exec_url(1), stale, LOGON, push("nmsRtEvent", an_event("x@example.com"))
    )
    assert not again["ok"]
    assert again["error"]["errorCode"] == "SDK-000012"


def test_refresh_client_logs_on_again_when_the_session_expired(stack: StackRunner) -> None:
    credentials = {"kind": "userAndPassword", "user": "mc", "password": "mc", "refresh": True}
    email = unique_email("refreshed")
    _logon, first, expire, second, refreshes, _logoff = sdk(
        stack.exec_url(1),
        credentials,
        LOGON,
        push("nmsRtEvent", an_event(unique_email("first"))),
        {"do": "expireSession"},
        push("nmsRtEvent", an_event(email)),
        {"do": "refreshes"},
        LOGOFF,
    )
    assert_pl_id(value(first))
    value(expire)
    assert assert_pl_id(value(second))[0] == 1  # SDK-000012, refreshClient, retried once
    assert value(refreshes) == 1
    messages_to(stack, email)


def test_session_methods_through_the_sdk(stack: StackRunner) -> None:
    credentials = {"kind": "userAndPassword", "user": "mc", "password": "mc"}
    _logon, database, unknown, server_time, _logoff = sdk(
        stack.exec_url(1),
        credentials,
        LOGON,
        {"do": "getOption", "name": "XtkDatabaseId"},
        {"do": "getOption", "name": "NoSuchOption"},
        {"do": "call", "schema": "xtkSession", "method": "getServerTime"},
        LOGOFF,
    )
    assert value(database)
    assert value(unknown) in ("", None)
    assert value(server_time)


# -- health pages -------------------------------------------------------------------------------


def test_ping_and_mc_ping(stack: StackRunner) -> None:
    ping, mc_ping = sdk(stack.lb_url, SESSION_TOKEN, {"do": "ping"}, {"do": "mcPing"})
    assert value(ping)["status"] == "OK"
    assert value(ping)["timestamp"]
    status = value(mc_ping)
    assert status["status"] == "Ok"
    assert int(status["eventQueueSize"]) >= 0
    assert int(status["eventQueueMaxSize"]) > 0


# -- Adobe's sample 600, flow by flow ------------------------------------------------------------


def sample(flow: str, url: str, **spec: Any) -> dict[str, Any]:
    """Run one flow of sample 600 and return what it would have printed."""
    output = node_json("sample600.js", {"flow": flow, "url": url, **spec})
    assert output["ok"], json.dumps(output["error"], indent=1)
    return output


def test_sample_600_session_token_logon(stack: StackRunner) -> None:
    assert sample("sessionTokenLogon", stack.lb_url)["value"] == {"logged": True}


def test_sample_600_published_event_types(stack: StackRunner) -> None:
    rows = sample("eventTypes", stack.lb_url)["value"]["enumValue"]
    assert {row["name"] for row in rows} >= {"PASSWORD_RESET", "ORDER_CONFIRMATION"}
    assert all(row["label"] and row["id"] for row in rows)


def test_sample_600_push_event(stack: StackRunner) -> None:
    email = unique_email("sample")
    event_id = sample("pushEvent", stack.lb_url, eventType="PASSWORD_RESET", email=email)
    assert_pl_id(event_id["value"]["eventId"])
    messages_to(stack, email)


def test_sample_600_event_status_until_processed(stack: StackRunner) -> None:
    # The sample's note: the status query works against one execution instance, not the balancer.
    email = unique_email("status")
    started = time.monotonic()
    out = sample("eventStatus", stack.exec_url(1), eventType="PASSWORD_RESET", email=email)
    found = out["value"]
    instance, pk = assert_pl_id(found["plId"])
    assert (instance, found["eventId"]) == (1, pk)
    assert found["event"]["id"] == str(pk)
    assert found["event"]["status"] == "2", found  # processed
    assert found["event"]["created"]
    assert time.monotonic() - started < 30


def test_adobe_sample_600_runs_unchanged_against_an_execution_instance(stack: StackRunner) -> None:
    """Run the SDK's own samples/600 file, as shipped; its event type "welcome" is published."""
    for instance in (1, 2):
        answer = httpx.put(
            f"{stack.exec_url(instance)}/_mc/event-types/welcome",
            json={"label": "Welcome"},
            auth=CONTROL_PLANE,
            timeout=10,
        )
        assert answer.status_code == 204, answer.text
    env = _env(ACC_URL=stack.exec_url(1), ACC_USER="mc", ACC_PASSWORD="mc")
    done = node(f"node_modules/@adobe/acc-js-sdk/samples/{SAMPLE_600}", env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Logged on with session token" in out
    types = json.loads(out.split(">> Message center published event types: ", 1)[1].split("\n")[0])
    assert {"name": "welcome", "label": "Welcome"}.items() <= types["enumValue"][-1].items()
    pushed = re.findall(r"^>> Event id: (\d+)$", out, flags=re.MULTILINE)
    assert len(pushed) == 2
    event = json.loads(out.split(">> Event: ", 1)[1].split("\n")[0])
    assert event["id"] == str(split_pl_id(int(pushed[1]))[1])
    assert "Connected to Campaign instance 'mcsim_exec1' build 'mcsim' with user 'mc'" in out
    # The first four samples ran; the last one is meant for the control (marketing) instance:
    # an execution instance answers that it has no nms:extAccount.
    assert "Failed to run sample" not in done.stderr
    assert "Unknown schema 'nms:extAccount'" in done.stderr


def test_sample_600_message_center_instances_from_the_control_instance(
    stack: StackRunner,
) -> None:
    out = sample("instances", stack.control_url, user="admin", password="admin")
    rows = out["value"]["extAccount"]
    assert sorted(int(row["executionInstanceId"]) for row in rows) == [1, 2]
    assert all("password" not in row for row in rows)


# -- npm's soap package, from the served WSDL ----------------------------------------------------


def test_soap_package_client_from_the_wsdl(stack: StackRunner) -> None:
    email = unique_email("soap")
    xml = (
        f'<rtEvent type="PASSWORD_RESET" email="{email}" wishedChannel="0">'
        "<ctx><firstName>Ann</firstName><resetUrl>https://shop.example/r</resetUrl></ctx>"
        "</rtEvent>"
    )
    wsdl = f"{stack.lb_url}/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent"
    one = node_json(
        "soap_client.js",
        {"wsdl": wsdl, "method": "PushEvent", "sessiontoken": "mc/mc", "xml": xml},
    )
    assert one["ok"], one
    assert one["endpoint"] == f"{stack.lb_url}/nl/jsp/soaprouter.jsp"
    (pl_id,) = one["plIds"]
    assert assert_pl_id(pl_id)[0] in {1, 2}
    assert messages_to(stack, email)[0]["eventId"] == pl_id  # all 64 bits, kept as a string

    emails = [unique_email(f"soaps{n}") for n in range(2)]
    collection = "<Events>" + "".join(xml.replace(email, e) for e in emails) + "</Events>"
    many = node_json(
        "soap_client.js",
        {"wsdl": wsdl, "method": "PushEvents", "sessiontoken": "mc/mc", "xml": collection},
    )
    assert many["ok"], many
    assert [messages_to(stack, e)[0]["eventId"] for e in emails] == many["plIds"]


def test_soap_package_sees_a_wrong_password_as_a_fault(stack: StackRunner) -> None:
    wsdl = f"{stack.lb_url}/nl/jsp/schemawsdl.jsp?schema=nms:rtEvent"
    spec = {
        "wsdl": wsdl,
        "method": "PushEvent",
        "sessiontoken": "mc/wrong-again",
        "xml": '<rtEvent type="PASSWORD_RESET" email="x@example.com"><ctx/></rtEvent>',
    }
    refused = node_json("soap_client.js", spec)
    assert not refused["ok"]
    assert refused["error"]["status"] == 500
    assert "Error while reading parameters" in refused["error"]["faultstring"]
