"""The control-plane API under ``/_mc/`` (DESIGN §3.7), used by the control instance.

Authenticated with the control-plane account only (HTTP Basic; see
:mod:`execution_instance.security.control_plane`): no intake credential opens it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from execution_instance.deps import StateDep
from execution_instance.identity import MAX_INSTANCE_ID
from execution_instance.intake.channels import Channel, Queue
from services.clock import ClockChange, ClockReport
from services.errors import InvalidRequest, NotFound
from services.soap.router import refuse_cross_site
from services.version import VERSION

__all__ = ["router"]


async def provide_control_caller(request: Request, state: StateDep) -> str:
    """Check the control-plane account (HTTP Basic) and return its login.

    A browser may hold that account's Basic credentials and send them along with a request
    another site's page makes: the control instance, the only caller, never sends
    ``Origin``/``Sec-Fetch-Site``, so a request that names another site is refused first.
    """
    refuse_cross_site(request.headers, content_type=None)
    return state.control_plane.check(
        authorization=request.headers.get("authorization", ""),
        address=request.client.host if request.client else None,
    )


router = APIRouter(
    prefix="/_mc", tags=["control plane"], dependencies=[Depends(provide_control_caller)]
)


class InstanceInfo(BaseModel):
    """What the control instance learns when it tests the connection."""

    instance_id: int
    version: str
    public_url: str
    event_types: list[str]
    pending_events: int


class EventTypeIn(BaseModel):
    """An event type to publish."""

    label: str = Field("", max_length=255)


class OperatorIn(BaseModel):
    """An operator's new password."""

    password: str = Field(max_length=1024)


class TechnicalTokenIn(BaseModel):
    """A technical token to accept, and the operator it acts as."""

    token: str = Field(min_length=16, max_length=1024)
    label: str = Field("", max_length=255)
    login: str = Field("mc", min_length=1, max_length=64)


@router.get("/info", response_model=InstanceInfo)
async def info(state: StateDep) -> InstanceInfo:
    """Describe this instance: id, version, public URL, event types and queue depth."""
    types = await run_in_threadpool(state.intake.known_types)
    pending = await run_in_threadpool(state.intake.pending, fresh=True)
    return InstanceInfo(
        instance_id=state.identity.value,
        version=VERSION,
        public_url=state.settings.resolved_public_url,
        event_types=sorted(types),
        pending_events=pending,
    )


class InstanceIdIn(BaseModel):
    """The id the control instance assigns ("initialize connection")."""

    instance_id: int = Field(ge=1, le=MAX_INSTANCE_ID)


class InstanceIdOut(BaseModel):
    """The instance's id after the call, and whether the call changed it."""

    instance_id: int
    changed: bool


@router.put("/instance-id", response_model=InstanceIdOut)
async def assign_instance_id(body: InstanceIdIn, state: StateDep) -> InstanceIdOut:
    """Set this instance's id (kept in its database; refused once it holds events)."""
    changed = await run_in_threadpool(state.identity.assign, body.instance_id)
    return InstanceIdOut(instance_id=state.identity.value, changed=changed)


@router.get("/event-types", response_model=list[str])
async def list_event_types(state: StateDep) -> list[str]:
    """List the event types published to this instance."""
    return sorted(await run_in_threadpool(state.intake.known_types))


@router.put("/event-types/{name}", status_code=204)
async def put_event_type(name: str, body: EventTypeIn, state: StateDep) -> Response:
    """Publish an event type (idempotent)."""
    _check_name(name)
    await run_in_threadpool(state.intake.add_event_types, [(name, body.label)])
    return Response(status_code=204)


@router.delete("/event-types/{name}", status_code=204)
async def delete_event_type(name: str, state: StateDep) -> Response:
    """Unpublish an event type."""
    if not await run_in_threadpool(state.intake.remove_event_type, name):
        raise NotFound(f"no event type {name!r} on this instance")
    return Response(status_code=204)


@router.put("/operators/{login}", status_code=204)
async def put_operator(login: str, body: OperatorIn, state: StateDep) -> Response:
    """Create an operator or set its password."""
    _check_name(login)
    await run_in_threadpool(state.security.set_operator, login=login, password=body.password)
    return Response(status_code=204)


@router.delete("/operators/{login}", status_code=204)
async def delete_operator(login: str, state: StateDep) -> Response:
    """Delete an operator and end its sessions."""
    if not await run_in_threadpool(state.security.remove_operator, login=login):
        raise NotFound(f"no operator {login!r} on this instance")
    return Response(status_code=204)


@router.post("/technical-tokens", status_code=204)
async def add_technical_token(body: TechnicalTokenIn, state: StateDep) -> Response:
    """Accept a bearer technical token."""
    await run_in_threadpool(
        state.security.set_technical_token, token=body.token, label=body.label, login=body.login
    )
    return Response(status_code=204)


@router.post("/technical-tokens/revoke", status_code=204)
async def revoke_technical_token(body: TechnicalTokenIn, state: StateDep) -> Response:
    """Stop accepting a bearer technical token."""
    if not await run_in_threadpool(state.security.remove_technical_token, token=body.token):
        raise NotFound("no such technical token on this instance")
    return Response(status_code=204)


class TemplateIn(BaseModel):
    """A template version to publish (real-time and batch variants)."""

    event_type: str = Field(min_length=1, max_length=64)
    channel: int = Field(description="0 email, 1 SMS, 41 iOS, 42 Android")
    version: int = Field(ge=1)
    content: dict[str, str] = Field(
        description="email: from_name, from_address, reply_to, subject, html, text; "
        "SMS: text; push: title, body, data"
    )
    queues: list[str] = Field(default_factory=lambda: ["rt", "batch"])


class PublishOutcome(BaseModel):
    """Whether a publish changed anything (the same version again is a no-op)."""

    changed: bool


class ResumeOutcome(BaseModel):
    """How many paused events went back to the queue."""

    resumed: int


@router.get("/templates")
async def list_templates(state: StateDep) -> list[dict[str, object]]:
    """List the templates published to this instance."""
    return await run_in_threadpool(state.templates.list)


@router.put("/templates/{name}", response_model=PublishOutcome)
async def publish_template(name: str, body: TemplateIn, state: StateDep) -> PublishOutcome:
    """Publish a template version (idempotent by version); its event type becomes known."""
    _check_name(name)
    _check_name(body.event_type)
    try:
        channel = Channel(body.channel)
        queues = [{"rt": Queue.REALTIME, "batch": Queue.BATCH}[q] for q in body.queues]
    except (ValueError, KeyError):
        raise InvalidRequest(
            "channel must be 0, 1, 41 or 42 and queues a list of 'rt' and 'batch'", field="channel"
        ) from None
    await run_in_threadpool(state.intake.add_event_types, [(body.event_type, body.event_type)])
    changed = await run_in_threadpool(
        lambda: state.templates.publish(
            name=name,
            event_type=body.event_type,
            channel=channel,
            version=body.version,
            content=body.content,
            queues=queues,
        )
    )
    return PublishOutcome(changed=changed)


@router.delete("/templates/{name}", status_code=204)
async def unpublish_template(name: str, state: StateDep) -> Response:
    """Unpublish a template from both queues."""
    await run_in_threadpool(lambda: state.templates.unpublish(name=name))
    return Response(status_code=204)


@router.post("/templates/{name}/pause", response_model=ResumeOutcome)
async def pause_template(name: str, state: StateDep) -> ResumeOutcome:
    """Pause a template: its events wait (status paused) until it is resumed."""
    await run_in_threadpool(lambda: state.templates.set_paused(name=name, paused=True))
    return ResumeOutcome(resumed=0)


@router.post("/templates/{name}/resume", response_model=ResumeOutcome)
async def resume_template(name: str, state: StateDep) -> ResumeOutcome:
    """Resume a template; its paused events go back to the queue."""
    resumed = await run_in_threadpool(lambda: state.templates.set_paused(name=name, paused=False))
    state.wake_processing()
    return ResumeOutcome(resumed=resumed)


class ResetOut(BaseModel):
    """What a reset removed."""

    events: int = Field(description="Events deleted.")
    taken_from_workers: int = Field(
        description="Of them, events a worker still held when the reset stopped waiting."
    )


@router.post("/reset", response_model=ResetOut)
async def reset(state: StateDep) -> ResetOut:
    """Forget every event, keep the configuration (between tests; refused in production)."""
    outcome = await run_in_threadpool(state.reset)
    return ResetOut(events=outcome.events, taken_from_workers=outcome.taken_from_workers)


@router.get("/clock", response_model=ClockReport, response_model_by_alias=True)
async def read_clock() -> ClockReport:
    """The instance's clock: real time plus the virtual offset a test stack moved it by."""
    return ClockReport.read()


@router.post("/clock", response_model=ClockReport, response_model_by_alias=True)
async def move_clock(change: ClockChange, state: StateDep) -> ClockReport:
    """Move the instance's clock (tests; refused in production): every process of the
    instance follows, and events that became due are taken at once."""
    await run_in_threadpool(state.move_clock, change)
    return ClockReport.read()


def _check_name(name: str) -> None:
    if not (0 < len(name) <= 64) or not all(c.isalnum() or c in "_-." for c in name):
        raise InvalidRequest(
            f"{name!r} is not a valid name: use 1-64 letters, digits, '_', '-' or '.'",
            field="name",
        )
