"""The control console in-process: a browser-like client with a session cookie and CSRF token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.control.conftest import Cell, control_cell

HTML = {"accept": "text/html"}


@dataclass
class Browser:
    """A console client: it sends the session cookie, and the CSRF token on changes."""

    cell: Cell
    client: httpx.AsyncClient
    csrf: str

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET a page as a browser does."""
        return await self.client.get(path, headers={**HTML, **kwargs.pop("headers", {})}, **kwargs)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """POST a form with the CSRF token, as the console's forms do."""
        form = {"csrf_token": self.csrf, **(data or {})}
        return await self.client.post(
            path, data=form, headers={**HTML, **kwargs.pop("headers", {})}, **kwargs
        )

    async def hx(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send an htmx request (the CSRF token in its header, as the layout's hx-headers)."""
        headers = {
            "HX-Request": "true",
            "X-CSRF-Token": self.csrf,
            **HTML,
            **kwargs.pop("headers", {}),
        }
        return await self.client.request(method, path, headers=headers, **kwargs)


async def open_browser(cell: Cell, login: str = "admin", password: str = "admin") -> Browser:
    """Log in through the login form and return the logged-in client."""
    client = cell.control
    client.cookies.clear()
    answer = await client.post(
        "/login", data={"login": login, "password": password, "next": "/"}, headers=HTML
    )
    assert answer.status_code == 303, answer.text
    return Browser(cell=cell, client=client, csrf=client.cookies["mcsim_csrf"])


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    """An admin logged in to the console of a control instance with two execution instances."""
    async with control_cell(tmp_path) as cell:
        yield await open_browser(cell)
