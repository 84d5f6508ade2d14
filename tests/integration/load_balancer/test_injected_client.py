"""The transport seam: ``create_app(http_client=...)`` forwards through the client it is given."""

from __future__ import annotations

import httpx

from load_balancer.app import create_app
from load_balancer.settings import BalancerSettings
from tests.integration.load_balancer.backends import EchoBackend
from tests.support.asgi import serve


class ByHost(httpx.AsyncBaseTransport):
    """Send each request to the ASGI app named by its host."""

    def __init__(self, apps: dict[str, EchoBackend]) -> None:
        self.transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)


async def test_an_injected_client_carries_the_data_path_and_the_health_checks() -> None:
    one, two = EchoBackend("one", 1), EchoBackend("two", 2)
    settings = BalancerSettings(backends=["http://one:1", "http://two:1"], health_interval=30)
    client = httpx.AsyncClient(transport=ByHost({"one": one, "two": two}))
    async with client, serve(create_app(settings, http_client=client)) as lb:
        answers = [
            (await lb.post("/nl/jsp/soaprouter.jsp?x=1", content=b"<e/>")).json() for _ in range(4)
        ]
        assert sorted(a["backend"] for a in answers) == ["one", "one", "two", "two"]
        assert {(a["path"], a["query"], a["body_length"]) for a in answers} == {
            ("/nl/jsp/soaprouter.jsp", "x=1", 4)
        }
        # The health checks learned the instance ids through the same client.
        held = await lb.get(f"/acme/campaign/mcacme/EVTX/{(2 << 56) | 3}")
        assert held.json()["backend"] == "two"
        status = (await lb.get("/_lb/status")).json()
        assert [b["instance_id"] for b in status["backends"]] == [1, 2]
        assert status["requests"] == 5
