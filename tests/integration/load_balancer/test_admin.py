"""Adding and removing backends at run time, behind a bearer token."""

from __future__ import annotations

from services.dev_credentials import LB_ADMIN_TOKEN, TECHNICAL_TOKEN
from tests.integration.load_balancer.backends import EchoBackend, serve_asgi
from tests.integration.load_balancer.conftest import running_balancer, wait_for


def test_backends_are_added_and_removed_at_run_time_with_the_admin_token() -> None:
    one, two = EchoBackend("one", 1), EchoBackend("two", 2)
    with (
        serve_asgi(one) as url_one,
        serve_asgi(two) as url_two,
        running_balancer([url_one], admin_token="s3cret-admin") as lb,
    ):
        token = {"Authorization": "Bearer s3cret-admin"}
        refused = lb.client.post("/_lb/backends", json={"url": url_two})
        assert refused.status_code == 401
        wrong = lb.client.post(
            "/_lb/backends", json={"url": url_two}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        assert lb.client.get("/_lb/backends").status_code == 401
        listed = lb.client.get("/_lb/backends", headers=token).json()
        assert [b["url"] for b in listed] == [url_one]

        added = lb.client.post("/_lb/backends", json={"url": url_two + "/"}, headers=token)
        assert added.status_code == 201, added.text
        assert added.json() == {"url": url_two, "state": "unknown"}
        wait_for(lambda: lb.backend(url_two)["instance_id"] == 2)
        answers = [lb.client.get("/x").json()["backend"] for _ in range(4)]
        assert sorted(answers) == ["one", "one", "two", "two"]

        again = lb.client.post("/_lb/backends", json={"url": url_two}, headers=token)
        assert again.status_code == 409
        bad = lb.client.post("/_lb/backends", json={"url": "ftp://x:1"}, headers=token)
        assert bad.status_code == 400
        assert bad.json()["field"] == "url"

        removed = lb.client.request(
            "DELETE", "/_lb/backends", params={"url": url_one}, headers=token
        )
        assert removed.status_code == 200
        assert [lb.client.get("/x").json()["backend"] for _ in range(3)] == ["two"] * 3
        missing = lb.client.request(
            "DELETE", "/_lb/backends", params={"url": url_one}, headers=token
        )
        assert missing.status_code == 404
        assert lb.status()["counts"]["total"] == 1


def test_without_a_token_outside_development_the_admin_api_is_off() -> None:
    with running_balancer([], environment="stage") as lb:
        answer = lb.client.post(
            "/_lb/backends",
            json={"url": "http://127.0.0.1:9"},
            headers={"Authorization": "Bearer mcsim-dev-token"},
        )
        assert answer.status_code == 401
        assert "MCSIM_LB_ADMIN_TOKEN" in answer.json()["detail"]
        assert lb.status()["counts"]["total"] == 0


def test_the_development_admin_token_is_not_the_websites_token() -> None:
    """Security review F3: in development a website's technical token added a backend."""
    one, evil = EchoBackend("one", 1), EchoBackend("evil", 2)
    with (
        serve_asgi(one) as url_one,
        serve_asgi(evil) as url_evil,
        running_balancer([url_one], environment="development") as lb,
    ):
        website = {"Authorization": f"Bearer {TECHNICAL_TOKEN}"}
        refused = lb.client.post("/_lb/backends", json={"url": url_evil}, headers=website)
        assert refused.status_code == 401
        assert lb.status()["counts"]["total"] == 1
        assert {lb.client.get("/x").json()["backend"] for _ in range(4)} == {"one"}
        admin = {"Authorization": f"Bearer {LB_ADMIN_TOKEN}"}
        assert lb.client.get("/_lb/backends", headers=admin).status_code == 200


def test_the_control_plane_is_never_forwarded() -> None:
    """Security review F1: the balancer proxied /_mc/ to the execution instances."""
    one = EchoBackend("one", 1)
    with serve_asgi(one) as url_one, running_balancer([url_one]) as lb:
        for path in ("/_mc", "/_mc/info", "/_mc/events?limit=5", "/%5Fmc/info"):
            answer = lb.client.get(path, headers={"Authorization": "Bearer x"})
            assert answer.status_code == 404, (path, answer.text)
            assert "not served through the load balancer" in answer.json()["message"]
        put = lb.client.put("/_mc/operators/evil", json={"password": "evil-pass"})
        assert put.status_code == 404
        assert lb.client.get("/_mcx").json()["backend"] == "one"  # only /_mc itself is kept
        assert one.count() == 1


def test_a_rebound_host_is_refused_before_it_is_forwarded() -> None:
    """Security review F9 on the balancer's data path (forwarded requests skip FastAPI)."""
    one = EchoBackend("one", 1)
    with serve_asgi(one) as url_one, running_balancer([url_one]) as lb:
        rebound = lb.client.get("/x", headers={"Host": "rebind.attacker.example:38080"})
        assert rebound.status_code == 421
        assert rebound.json()["error"] == "misdirected_request"
        soap = lb.client.post(
            "/nl/jsp/soaprouter.jsp",
            content=b"<x/>",
            headers={"Host": "rebind.attacker.example", "Content-Type": "text/xml"},
        )
        assert soap.status_code == 421
        assert one.count() == 0
        assert lb.client.get("/x").json()["backend"] == "one"
        assert one.count() == 1
