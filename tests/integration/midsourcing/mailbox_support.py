"""A browser of the mailbox: it keeps the CSRF cookie and sends the token back on changes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from midsourcing.mailbox.csrf import COOKIE

HTML = {"accept": "text/html"}


@dataclass
class Mailbox:
    """A browser on the mailbox (the same client also talks to the JSON API)."""

    client: httpx.AsyncClient

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a page as a browser does."""
        headers = {**HTML, **kwargs.pop("headers", {})}
        return await self.client.get(path, headers=headers, **kwargs)

    @property
    def csrf(self) -> str:
        """Return the token the mailbox gave this browser."""
        return self.client.cookies[COOKIE]

    async def post(
        self, path: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """POST a form with the CSRF token, as the mailbox's forms do."""
        form = {"csrf_token": self.csrf, **(data or {})}
        headers = {**HTML, "origin": "http://testserver", **kwargs.pop("headers", {})}
        return await self.client.post(path, data=form, headers=headers, **kwargs)

    async def hx(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a part of a page as htmx does."""
        headers = {**HTML, "HX-Request": "true", **kwargs.pop("headers", {})}
        return await self.client.get(path, headers=headers, **kwargs)


async def open_mailbox(client: httpx.AsyncClient) -> Mailbox:
    """Open the mailbox's start page once, which gives the browser its CSRF token."""
    answer = await client.get("/", headers=HTML)
    assert answer.status_code == 200, answer.text
    return Mailbox(client)


def message_links(html: str) -> list[int]:
    """Return the ids of the messages listed on a page, in order."""
    return [int(found) for found in re.findall(r'href="/messages/(\d+)"', html)]
