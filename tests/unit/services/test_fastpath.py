"""The fast path: one hot route served ahead of the app's middleware, with id, log line and 500."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from services.fastpath import FastPathApp, install_fast_path
from services.logging_setup import request_id
from services.web import install_common

SEEN_IDS: list[str | None] = []


async def _endpoint(request: Request) -> Response:
    SEEN_IDS.append(request_id.get())
    body = await request.body()
    if body == b"boom":
        raise RuntimeError("unexpected")
    status = 500 if body == b"fault" else 200
    return Response(b"<answer/>", status_code=status, media_type="text/xml")


def _app() -> FastAPI:
    app = FastPathApp()
    install_common(app)  # the ordinary request-logging middleware, for the other routes

    @app.get("/other")
    async def other() -> dict[str, str]:
        return {"ok": "yes"}

    install_fast_path(app, method="POST", path="/hot", endpoint=_endpoint)
    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "mcsim.http"]


async def test_the_hot_route_keeps_the_callers_request_id_and_logs_success_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mcsim.http")
    async with _client(_app()) as client:
        answer = await client.post("/hot", content=b"ok", headers={"x-request-id": "rid-7"})
    assert answer.status_code == 200
    assert answer.text == "<answer/>"
    assert answer.headers["x-request-id"] == "rid-7"
    assert SEEN_IDS[-1] == "rid-7"  # the endpoint ran with the id set (its own log lines)
    (line,) = _lines(caplog)
    assert line.levelno == logging.DEBUG
    assert (line.method, line.path, line.status) == ("POST", "/hot", 200)  # type: ignore[attr-defined]


async def test_a_refused_call_is_logged_at_info_with_a_fresh_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcsim.http")
    async with _client(_app()) as client:
        answer = await client.post("/hot", content=b"fault", headers={"x-request-id": "\x00bad"})
    assert answer.status_code == 500
    fresh = answer.headers["x-request-id"]
    assert fresh != "\x00bad" and len(fresh) == 32
    (line,) = _lines(caplog)
    assert line.levelno == logging.INFO
    assert line.status == 500  # type: ignore[attr-defined]


async def test_an_unexpected_error_answers_a_bare_500_and_logs_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with _client(_app()) as client:
        answer = await client.post("/hot", content=b"boom")
    assert answer.status_code == 500
    assert answer.text == "Internal Server Error"
    assert "x-request-id" in answer.headers
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[0].exc_info is not None
    assert "RuntimeError" in caplog.text


async def test_other_routes_and_methods_go_through_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcsim.http")
    async with _client(_app()) as client:
        other = await client.get("/other", headers={"x-request-id": "rid-9"})
        wrong_method = await client.get("/hot")
    assert other.json() == {"ok": "yes"}
    assert other.headers["x-request-id"] == "rid-9"  # from RequestLogMiddleware
    assert wrong_method.status_code == 404  # FastAPI answered (no such GET route), not _endpoint
    assert [r.status for r in _lines(caplog)] == [200, 404]  # type: ignore[attr-defined]


def test_a_fast_path_needs_a_fast_path_app() -> None:
    with pytest.raises(TypeError, match="FastPathApp"):
        install_fast_path(FastAPI(), method="POST", path="/hot", endpoint=_endpoint)


async def test_the_endpoint_reads_headers_in_any_case_first_value_first() -> None:
    seen: dict[str, object] = {}

    async def endpoint(request: Request) -> Response:
        headers = request.headers
        seen.update(
            soap=headers.get("SOAPAction"),
            forwarded=headers["x-forwarded-for"],
            missing=headers.get("authorization", "none"),
            has_cookie="Cookie" in headers,
            cookie=request.cookies.get("__sessiontoken"),
        )
        return Response(b"<ok/>", media_type="text/xml")

    app = FastPathApp()
    install_fast_path(app, method="POST", path="/hot", endpoint=endpoint)
    async with _client(app) as client:
        answer = await client.post(
            "/hot",
            content=b"x",
            headers=[
                ("SOAPAction", "nms:rtEvent#PushEvent"),
                ("X-Forwarded-For", "203.0.113.7"),
                ("X-Forwarded-For", "10.0.0.1"),
                ("Cookie", "__sessiontoken=abc; other=1"),
            ],
        )
    assert answer.status_code == 200
    assert seen == {
        "soap": "nms:rtEvent#PushEvent",
        "forwarded": "203.0.113.7",
        "missing": "none",
        "has_cookie": True,
        "cookie": "abc",
    }


async def test_a_pattern_route_takes_only_what_it_matches_whole_with_its_path_parameters() -> None:
    app = FastPathApp()
    install_common(app)
    seen: list[dict[str, str]] = []

    async def hot(request: Request) -> Response:
        seen.append(dict(request.path_params))
        return Response(b"fast")

    @app.post("/{org}/campaign/{api}/{event_id}/")
    async def slow() -> dict[str, str]:
        return {"served": "by FastAPI"}

    install_fast_path(
        app,
        method="POST",
        pattern=r"/(?P<org>[^/]+)/campaign/(?P<api>[^/]+)/(?P<eid>[^/]+)",
        endpoint=hot,
    )
    async with _client(app) as client:
        assert (await client.post("/acme/campaign/mcacme/EVTX")).text == "fast"
        assert seen == [{"org": "acme", "api": "mcacme", "eid": "EVTX"}]
        # not matched whole, or another method: FastAPI as before
        assert (await client.post("/acme/campaign/mcacme/EVTX/")).json() == {"served": "by FastAPI"}
        assert (await client.get("/acme/campaign/mcacme/EVTX")).text != "fast"
        assert (await client.post("/acme/other/mcacme/EVTX")).status_code == 404
    assert len(seen) == 1


def test_a_fast_path_has_a_path_or_a_pattern() -> None:
    with pytest.raises(TypeError, match="either a path or a pattern"):
        install_fast_path(FastPathApp(), method="POST", endpoint=_endpoint)
    with pytest.raises(TypeError, match="either a path or a pattern"):
        install_fast_path(FastPathApp(), method="POST", path="/a", pattern="/b", endpoint=_endpoint)
