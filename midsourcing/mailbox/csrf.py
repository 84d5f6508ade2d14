"""Cross-site request protection of the mailbox, which has no login (like Mailpit).

Every browser gets a random token in a ``SameSite=Strict`` cookie; each change must send the same
token back (double submit: the ``X-CSRF-Token`` header htmx adds from the layout, or the
``csrf_token`` field of a form). A change whose ``Sec-Fetch-Site`` or ``Origin`` says it comes
from another site is refused before the token is even looked at.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from services.errors import Forbidden
from services.ui import csrf_token_sent

__all__ = [
    "COOKIE",
    "HEADER",
    "CsrfChecked",
    "check_change",
    "from_another_site",
    "set_cookie",
    "token_for",
]

#: The cookie holding this browser's token.
COOKIE = "mcsim_mailbox_csrf"
#: The header htmx sends the token in.
HEADER = "X-CSRF-Token"

_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
_SAME_SITE = frozenset({"same-origin", "none"})


def token_for(request: Request) -> tuple[str, bool]:
    """Return this browser's token, and whether it is new (to be set as a cookie)."""
    current = request.cookies.get(COOKIE, "")
    if _TOKEN.fullmatch(current):
        return current, False
    return secrets.token_urlsafe(32), True


def set_cookie(response: Response, request: Request, token: str) -> None:
    """Give the browser its token: only ever sent back by pages of this site."""
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def from_another_site(request: Request) -> bool:
    """Return whether ``request`` says (Sec-Fetch-Site, Origin) it was sent by another site."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in _SAME_SITE:
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != request.headers.get("host", "")


async def check_change(request: Request) -> None:
    """Refuse a change sent from another site or without this browser's token."""
    if from_another_site(request):
        raise Forbidden("this change was sent from another site and was refused")
    expected = request.cookies.get(COOKIE, "")
    sent = await csrf_token_sent(request, HEADER)
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise Forbidden(
            "this change was refused: the page is stale or its form did not come from the "
            "mailbox; reload the page and try again"
        )


CsrfChecked = Annotated[None, Depends(check_change)]
