"""F8: the mid-sourcing router refuses delivery parts a web page could post cross-site."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.midsourcing.support import append_envelope, email, part, soap
from tests.support.soap import fault_of

DRIVE_BY = "/nl/jsp/soaprouter.jsp?soapAction=nms:delivery%23AppendDeliveryPart"


async def captured(mid: httpx.AsyncClient) -> int:
    """Return how many messages the mailbox holds."""
    answer = await mid.get("/api/v1/messages")
    assert answer.status_code == 200
    total: int = answer.json()["total"]
    return total


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"content-type": "text/plain", "origin": "https://evil.example"}, 415),
        ({"content-type": "application/x-www-form-urlencoded"}, 415),
        ({"content-type": "multipart/form-data; boundary=x"}, 415),
        ({"content-type": "text/xml", "origin": "https://evil.example"}, 403),
        ({"content-type": "text/xml", "sec-fetch-site": "cross-site"}, 403),
    ],
)
async def test_a_cross_site_delivery_part_is_refused_and_nothing_is_sent(
    mid: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    spam = part(email("spam-target@example.com", from_address="security@bank.example"))
    answer = await mid.post(DRIVE_BY, content=append_envelope(spam).encode(), headers=headers)
    assert answer.status_code == status
    assert fault_of(answer.content)["faultcode"] == "SOAP-ENV:Client"
    assert await captured(mid) == 0


async def test_the_execution_instances_calls_are_accepted(mid: httpx.AsyncClient) -> None:
    answer = await soap(mid, append_envelope(part(email("ann@example.com"))))
    assert answer.status_code == 200, answer.text
