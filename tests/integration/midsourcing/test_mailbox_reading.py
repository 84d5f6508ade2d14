"""The mailbox as a mail client (issue 18): unread messages stand out until opened, the list
says who each email is from, and a message links to the newer and older ones."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.midsourcing.conftest import MidFactory
from tests.integration.midsourcing.mailbox_support import Mailbox, open_mailbox
from tests.integration.midsourcing.support import append, email, part, settle, sms


@pytest.fixture
async def mailbox(make_mid: MidFactory) -> AsyncIterator[Mailbox]:
    async with make_mid() as client:
        yield await open_mailbox(client)


async def test_opening_a_message_marks_it_read_and_links_its_neighbours(mailbox: Mailbox) -> None:
    await append(
        mailbox.client,
        part(
            email("ann@example.com", from_name="Acme Shop", from_address="shop@acme.test"),
            email("bob@example.com", from_name="", from_address="noreply@acme.test"),
            sms("+447700900000"),
        ),
    )
    await settle(mailbox.client, 3)
    found = (await mailbox.client.get("/api/v1/messages")).json()["messages"]
    sms_id, bob_id, ann_id = (m["id"] for m in found)  # newest first
    senders = {m["to"]: m["sender"] for m in found}
    assert senders == {
        "ann@example.com": "Acme Shop <shop@acme.test>",
        "bob@example.com": "noreply@acme.test",
        "+447700900000": "",
    }
    assert [m["read"] for m in found] == [False, False, False]
    listing = (await mailbox.get("/")).text
    assert listing.count("Unread: ") == 3
    assert '<td class="sender">Acme Shop &lt;shop@acme.test&gt;</td>' in listing
    assert '<th scope="col">From</th>' in listing

    page = (await mailbox.get(f"/messages/{bob_id}")).text
    assert f'id="message-newer" href="/messages/{sms_id}"' in page
    assert f'id="message-older" href="/messages/{ann_id}"' in page
    newest = (await mailbox.get(f"/messages/{sms_id}")).text
    assert 'id="message-newer"' not in newest  # nothing newer: the link is not there

    read = {
        m["id"]: m["read"]
        for m in (await mailbox.client.get("/api/v1/messages")).json()["messages"]
    }
    assert read == {sms_id: True, bob_id: True, ann_id: False}
    listing = (await mailbox.get("/")).text
    assert listing.count("Unread: ") == 1
    assert f'class="message-row unread" data-message-id="{ann_id}"' in listing


async def test_an_unknown_message_is_not_found_and_marks_nothing(mailbox: Mailbox) -> None:
    answer = await mailbox.get("/messages/999999")
    assert answer.status_code == 404
