"""The REST transactional API: ``POST /{org}/campaign/{api}/{eventID}`` and ``GET {href}``."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from execution_instance.deps import StateDep, client_address, provide_state
from execution_instance.intake.writer import UNAVAILABLE, storage_refused
from execution_instance.rest import service
from execution_instance.security.service import Credentials
from execution_instance.state import ExecutionState
from services.bodies import read_body
from services.db import DatabaseError
from services.errors import AuthenticationFailed, InvalidRequest, McsimError
from services.safe_input import XmlText
from services.waiting import MAX_WAIT_SECONDS
from services.web import answer_error

__all__ = ["EVENT_PATH_PATTERN", "post_event_fast", "router"]

router = APIRouter(tags=["transactional messages"])


class MobileApp(BaseModel):
    """The push application of an event."""

    uuid: XmlText


class TransactionalEventIn(BaseModel):
    """An event as the REST API accepts it (documentation of the body; unknown keys are ignored)."""

    model_config = ConfigDict(extra="allow")

    email: str | None = Field(None, examples=["ann@example.com"])
    mobilePhone: str | None = Field(None, examples=["+447700900123"])  # noqa: N815 - wire name
    wishedChannel: int | None = Field(None, description="0 email, 1 SMS, 41 iOS, 42 Android")  # noqa: N815
    scheduled: str | None = Field(None, examples=["2026-12-01 08:00:00.000Z"])
    expiration: str | None = Field(None, examples=["2026-12-31 08:00:00.000Z"])
    externalId: XmlText | None = None  # noqa: N815 - wire name
    registrationToken: XmlText | None = None  # noqa: N815 - wire name
    mobileApp: MobileApp | None = None  # noqa: N815 - wire name
    ctx: dict[str, Any] = Field(examples=[{"firstName": "Ann", "resetUrl": "https://x.test/r"}])


class TransactionalEventOut(BaseModel):
    """An event and its current status."""

    PKey: str
    href: str
    serverUrl: str  # noqa: N815 - wire name
    status: str
    type: str
    email: str
    mobilePhone: str  # noqa: N815 - wire name
    wishedChannel: int  # noqa: N815 - wire name
    externalId: str  # noqa: N815 - wire name
    scheduled: str | None
    expiration: str | None
    created: str
    processed: str | None
    failureReason: int | None  # noqa: N815 - wire name
    error: str | None
    ctx: dict[str, Any]


async def _credentials(request: Request, state: StateDep) -> Credentials:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "the REST API needs Authorization: Bearer <technical token or IMS access token>",
            field="Authorization",
        )
    await state.security.prepare_bearer(token)  # an IMS token may need IMS's keys read first
    return Credentials(
        address=client_address(request, state),
        bearer=token.strip(),
        api_key=request.headers.get("x-api-key", ""),
    )


#: The REST POST's path as the fast path matches it: exactly what the route below matches.
EVENT_PATH_PATTERN = r"/(?P<org>[^/]+)/campaign/(?P<api>[^/]+)/(?P<event_id>[^/]+)"
_MAX_KEY_LENGTH = 255


@router.post(
    "/{org}/campaign/{api}/{event_id}",
    status_code=201,
    response_model=TransactionalEventOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TransactionalEventIn.model_json_schema()}},
        }
    },
)
async def post_event(
    org: str,
    api: str,
    event_id: str,
    request: Request,
    state: StateDep,
    idempotency_key: Annotated[str | None, Header(max_length=_MAX_KEY_LENGTH)] = None,
) -> JSONResponse:
    """Send a transactional event; answer 201 with its PKey, href and status (pending).

    Served by :func:`post_event_fast` ahead of FastAPI (the app installs it as a fast path);
    this route documents it in the OpenAPI schema.
    """
    return await _post_event(request, state, org, api, event_id, idempotency_key)


async def post_event_fast(request: Request) -> Response:
    """The REST POST ahead of FastAPI's middleware, routing and dependencies (a hot path: they
    cost a third of an execution instance's web CPU at a steady load of REST events)."""
    params = request.path_params
    try:
        key = request.headers.get("idempotency-key")
        if key is not None and len(key) > _MAX_KEY_LENGTH:
            raise InvalidRequest(  # as FastAPI's validation of the route's header says it
                "the request is invalid",
                detail="header.idempotency-key: String should have at most "
                f"{_MAX_KEY_LENGTH} characters",
                field="header.idempotency-key",
            )
        return await _post_event(
            request, provide_state(request), params["org"], params["api"], params["event_id"], key
        )
    except McsimError as exc:
        return answer_error(request, exc)


async def _post_event(
    request: Request,
    state: ExecutionState,
    org: str,
    api: str,
    event_id: str,
    idempotency_key: str | None,
) -> JSONResponse:
    credentials = await _credentials(request, state)
    raw = await read_body(request, max_bytes=state.settings.max_body_bytes)
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        stored = await service.submit_event(
            state,
            service.EventRequest(org, api, event_id, body, idempotency_key),
            credentials,
        )
    except UNAVAILABLE as exc:  # the key's look-up: the database cannot be reached
        raise storage_refused(exc) from exc
    headers = {"idempotent-replayed": "true"} if stored.replayed else {}
    resource = service.event_resource(state, stored)
    return JSONResponse(resource, status_code=201, headers=headers)


@router.get("/{org}/campaign/{api}/{event_id}/{pkey}", response_model=TransactionalEventOut)
async def get_event(
    org: str,
    api: str,
    event_id: str,
    pkey: str,
    request: Request,
    state: StateDep,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Seconds to wait for the status (long-poll): the answer comes as soon "
            "as the event is no longer pending or processing, or has the status `until`.",
        ),
    ] = 0,
    until: Annotated[
        str | None,
        Query(max_length=32, description="With wait: the status to wait for (e.g. processed)."),
    ] = None,
) -> dict[str, Any]:
    """Return an event and its current status (follow the ``href`` of the POST)."""
    target = service.parse_status(until) if until is not None else None
    credentials = await _credentials(request, state)
    try:
        stored = await service.wait_for_event(
            state,
            org=org,
            api=api,
            event_id=event_id,
            pkey=pkey,
            credentials=credentials,
            wait=wait,
            until=target,
        )
    except UNAVAILABLE as exc:
        raise DatabaseError(
            "The execution instance's database is unavailable. Retry later.",
            detail=type(exc).__name__,
        ) from exc
    return service.event_resource(state, stored)
