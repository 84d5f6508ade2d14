"""Adding and removing backends at run time, behind a bearer token."""

from __future__ import annotations

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
        assert [b["url"] for b in lb.client.get("/_lb/backends").json()] == [url_one]

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
