"""F13: a login's ``next`` never reaches a response header with a line break in it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from control_instance.console.views.session import _safe_next
from tests.integration.console.conftest import HTML, Browser

#: The review's request: CR LF in ``next`` would add Set-Cookie and X-Injected to the answer.
SPLITTING_NEXT = "/ok\r\nSet-Cookie: injected=1\r\nX-Injected: yes"


async def test_an_htmx_login_with_crlf_in_next_goes_to_the_dashboard(browser: Browser) -> None:
    client = browser.client
    client.cookies.clear()
    answer = await client.post(
        "/login",
        data={"login": "admin", "password": "admin", "next": SPLITTING_NEXT},
        headers={"HX-Request": "true", **HTML},
    )
    assert answer.status_code == 204
    assert answer.headers["hx-redirect"] == "/"
    assert "x-injected" not in answer.headers
    assert all("injected" not in cookie for cookie in answer.headers.get_list("set-cookie"))
    assert "mcsim_session" in client.cookies  # the login itself worked


async def test_a_form_login_with_control_characters_in_next_goes_to_the_dashboard(
    browser: Browser,
) -> None:
    client = browser.client
    for target in (SPLITTING_NEXT, "/events\tx", "/events\x00", "/a\x0bb", "/a\x7fb"):
        client.cookies.clear()
        answer = await client.post(
            "/login", data={"login": "admin", "password": "admin", "next": target}, headers=HTML
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/", repr(target)


async def test_an_htmx_redirect_is_percent_encoded_like_a_location(browser: Browser) -> None:
    client = browser.client
    client.cookies.clear()
    answer = await client.post(
        "/login",
        data={"login": "admin", "password": "admin", "next": "/events?q=café ü"},
        headers={"HX-Request": "true", **HTML},
    )
    assert answer.status_code == 204
    assert answer.headers["hx-redirect"] == "/events?q=caf%C3%A9%20%C3%BC"


@given(st.text(max_size=40))
def test_a_safe_next_is_a_printable_local_path_or_the_dashboard(target: str) -> None:
    chosen = _safe_next(target)
    assert chosen == "/" or chosen == target
    assert chosen.startswith("/") and not chosen.startswith("//")
    assert chosen.isprintable()  # no CR, LF, TAB or other control character
