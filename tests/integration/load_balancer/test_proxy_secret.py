"""The balancer proves itself to the backends with its secret; callers cannot (review F2)."""

from __future__ import annotations

from tests.integration.load_balancer.backends import EchoBackend, serve_asgi
from tests.integration.load_balancer.conftest import running_balancer


def _seen_headers(answer_json: dict[str, object]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in answer_json["headers"]:  # type: ignore[attr-defined]
        headers.setdefault(name, []).append(value)
    return headers


def test_the_secret_is_sent_and_a_callers_copy_is_dropped() -> None:
    with serve_asgi(EchoBackend("one", 1)) as url:
        with running_balancer([url], proxy_secret="s3cret") as lb:
            answer = lb.client.get("/x", headers={"X-Mcsim-Proxy-Secret": "forged"})
        assert answer.status_code == 200
        assert _seen_headers(answer.json())["x-mcsim-proxy-secret"] == ["s3cret"]
        with running_balancer([url]) as lb:
            answer = lb.client.get("/x", headers={"X-Mcsim-Proxy-Secret": "forged"})
        assert "x-mcsim-proxy-secret" not in _seen_headers(answer.json())
