"""Console section: templates — list, create, edit with a live preview, publish, versions.

Every action calls the use case ``/api/v1/templates`` calls (``control_instance/templates``).
The live preview renders the unsaved draft with the sandboxed engine; rendered HTML is shown in
a sandboxed frame loaded from :func:`preview_frame` under the frame policy, never ``srcdoc``.
Seed addresses and proofs are in :mod:`~control_instance.console.views.templates_seeds`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from control_instance.console.deps import EditorUser, User, ViewerUser
from control_instance.console.rendering import page, redirect
from control_instance.console.views import templates_seeds
from control_instance.console.views.templates_forms import PreviewCache, parse_form, text_fields
from control_instance.deps import StateDep
from control_instance.event_types.service import list_event_types
from control_instance.pagination import PageParams, RowId
from control_instance.state import ControlState
from control_instance.templates import publishing, seeds, service, testing, versions
from control_instance.templates.content import CHANNEL_FIELDS, ChannelName
from control_instance.templates.schemas import (
    PreviewIn,
    PreviewOut,
    PublishOut,
    RollbackIn,
    TemplateCreate,
    TemplatePublic,
    TemplateState,
    TemplateUpdate,
)
from services.errors import InvalidRequest, McsimError, NotFound
from services.ui import frame_headers

__all__ = ["FIELD_LABELS", "PREVIEWS", "content_from", "router"]

router = APIRouter(include_in_schema=False)

#: Rendered HTML previews waiting for their frame to load them.
PREVIEWS = PreviewCache(size=200, ttl=600.0)

#: How each content field is labelled on the editor, and whether it is a long text.
FIELD_LABELS: dict[str, tuple[str, bool]] = {
    "from_name": ("From name", False),
    "from_address": ("From address", False),
    "reply_to": ("Reply-to address", False),
    "subject": ("Subject", False),
    "html": ("HTML body", True),
    "text": ("Text body", True),
    "title": ("Title", False),
    "body": ("Body", True),
    "data": ("Custom data (a JSON object)", True),
}
_ALL = PageParams(limit=500, offset=0)
_RECENT = PageParams(limit=10, offset=0)
_STATE_LABELS = {
    TemplateState.BEING_EDITED: "Being edited",
    TemplateState.PUBLISHED: "Published",
    TemplateState.PAUSED: "Paused",
}
_PUBLISH_TRIGGER = {"HX-Trigger-After-Settle": "mcsim-published"}


def content_from(form: FormData, channel: ChannelName) -> dict[str, str]:
    """Return the channel's content fields sent in a form (browsers send CRLF: made LF)."""
    return text_fields(form, CHANNEL_FIELDS[channel])


def _enum(kind: type[ChannelName] | type[TemplateState], value: str | None, name: str) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise InvalidRequest(f"unknown {name} {value!r}", detail=f"one of: {choices}") from None


def _common() -> dict[str, Any]:
    return {
        "field_labels": FIELD_LABELS,
        "channel_fields": CHANNEL_FIELDS,
        "channels": list(ChannelName),
        "state_labels": _STATE_LABELS,
    }


@router.get("/templates", response_class=HTMLResponse)
async def list_page(
    request: Request,
    state: StateDep,
    user: ViewerUser,
    event_type: str | None = None,
    channel: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> HTMLResponse:
    """List the templates, filtered by event type, channel and state."""
    wanted_state = request.query_params.get("state") or None
    chosen_channel = _enum(ChannelName, channel, "channel")
    chosen_state = _enum(TemplateState, wanted_state, "state")
    paging = PageParams(limit=max(1, min(limit, 500)), offset=max(0, offset))

    def load() -> dict[str, Any]:
        return {
            "templates": service.list_templates(
                db=state.db,
                page=paging,
                event_type=event_type or None,
                channel=chosen_channel,
                state=chosen_state,
            ),
            "event_types": list_event_types(db=state.db, page=_ALL).items,
        }

    filters = {
        "event_type": event_type or "",
        "channel": channel or "",
        "state": wanted_state or "",
    }
    return page(
        request,
        "templates.html",
        user,
        active="/templates",
        filters=filters,
        **(await run_in_threadpool(load)),
        **_common(),
    )


@router.get("/templates/new", response_class=HTMLResponse)
async def new_page(
    request: Request, state: StateDep, user: EditorUser, event_type: str = ""
) -> HTMLResponse:
    """Show the form of a new template."""
    listed = await run_in_threadpool(lambda: list_event_types(db=state.db, page=_ALL))
    return page(
        request,
        "templates_new.html",
        user,
        active="/templates",
        event_types=listed.items,
        chosen=event_type,
        **_common(),
    )


@router.post("/templates", response_model=None)
async def create(
    request: Request,
    state: StateDep,
    user: EditorUser,
    event_type: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
) -> Response:
    """Create a template Being edited and open its editor."""
    new = parse_form(
        TemplateCreate,
        event_type=event_type,
        channel=channel,
        name=name.strip() or None,
        label=label.strip(),
    )
    created = await run_in_threadpool(
        lambda: service.create_template(db=state.db, new=new, actor=user.login)
    )
    return redirect(request, f"/templates/{created.id}")


def _editor_context(state: ControlState, template_id: int) -> dict[str, Any]:
    template = service.get_template(db=state.db, template_id=template_id)
    return {
        "template": template,
        "seeds": seeds.list_seeds(db=state.db, template_id=template_id, page=_ALL),
        "fields": templates_seeds.field_picker_fields(state, template),
        "versions": versions.list_versions(db=state.db, template_id=template_id, page=_ALL),
        "proofs": testing.list_proofs(db=state.db, template_id=template_id, page=_RECENT),
    }


@router.get("/templates/{template_id}", response_class=HTMLResponse)
async def editor_page(
    request: Request, template_id: int, state: StateDep, user: ViewerUser
) -> HTMLResponse:
    """Show a template: its draft in an editor with a live preview, seeds, proofs, versions."""
    found = await run_in_threadpool(_editor_context, state, template_id)
    return page(
        request,
        "templates_edit.html",
        user,
        active="/templates",
        outcome=None,
        done=None,
        proof=None,
        **found,
        **_common(),
    )


def _status(
    request: Request,
    user: User,
    template: TemplatePublic,
    *,
    done: str | None = None,
    outcome: PublishOut | None = None,
    editor: list[str] | None = None,
    headers: dict[str, str] | None = None,
    saved: bool = False,
    rolled_back: bool = False,
) -> HTMLResponse:
    """Return the status panel; with ``editor`` (the picker's fields), the editor too.

    ``done`` is shown where its action was asked for: a save's beside the Save button, a
    rollback's above the versions list, the others' in the status panel.
    """
    answer = page(
        request,
        "_template_status.html",
        user,
        template=template,
        done=done,
        outcome=outcome,
        editor_oob=editor is not None,
        fields=editor or [],
        # the outcome of a save is shown beside the Save button, not in the status panel
        saved_here=saved,
        versions_done=rolled_back,
        **_common(),
    )
    answer.headers.update(headers or {})
    return answer


@router.post("/templates/{template_id}", response_class=HTMLResponse)
async def save(
    request: Request, template_id: int, state: StateDep, user: EditorUser
) -> HTMLResponse:
    """Save the draft (a syntax error is refused with its field and line; nothing changes)."""
    form = await request.form()
    current = await run_in_threadpool(
        lambda: service.get_template(db=state.db, template_id=template_id)
    )
    label = form.get("label")
    changes = parse_form(
        TemplateUpdate,
        label=label.strip() if isinstance(label, str) else None,
        content=content_from(form, current.channel),
    )
    saved = await run_in_threadpool(
        lambda: service.update_template(
            db=state.db, template_id=template_id, changes=changes, actor=user.login
        )
    )
    done = "Draft saved."
    if saved.state is not TemplateState.BEING_EDITED and saved.has_unpublished_changes:
        done += " Publish it again to send the changes to the execution instances."
    return _status(request, user, saved, done=done, saved=True)


@router.post("/templates/{template_id}/delete", response_model=None)
async def delete(request: Request, template_id: int, state: StateDep, user: EditorUser) -> Response:
    """Delete a template Being edited and go back to the list."""
    await run_in_threadpool(lambda: service.delete_template(db=state.db, template_id=template_id))
    return redirect(request, "/templates")


def _form_int(form: FormData, name: str) -> int | None:
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidRequest(f"{value!r} is not a number", field=name) from None


@router.post("/templates/{template_id}/preview", response_class=HTMLResponse)
async def preview(
    request: Request, template_id: int, state: StateDep, user: ViewerUser
) -> HTMLResponse:
    """Render the unsaved draft (or a published version) with a seed address.

    A render error (syntax, runtime, ctx, push data) is shown in place of the preview.
    """
    form = await request.form()
    template = await run_in_threadpool(
        lambda: service.get_template(db=state.db, template_id=template_id)
    )
    version = _form_int(form, "version")
    body = PreviewIn(
        seed_id=_form_int(form, "seed_id"),
        event_id=_form_int(form, "event_id"),
        version=version,
        content=None if version else content_from(form, template.channel),
    )
    rendered: PreviewOut | None = None
    problem: McsimError | None = None
    frame_key: str | None = None
    try:
        rendered = await testing.preview_template(state=state, template_id=template_id, body=body)
    except InvalidRequest as exc:  # syntax, runtime, ctx and push-data errors: shown in place
        problem = exc
    if rendered is not None and rendered.fields.get("html", "").strip():
        frame_key = PREVIEWS.put(template_id, rendered.fields["html"])
    return page(
        request,
        "_template_preview.html",
        user,
        template=template,
        rendered=rendered,
        problem=problem,
        frame_key=frame_key,
        version=version,
        **_common(),
    )


@router.get("/templates/{template_id}/preview-frame/{key}", response_class=HTMLResponse)
async def preview_frame(template_id: int, key: str, user: ViewerUser) -> HTMLResponse:
    """Serve a rendered HTML preview under the frame policy (sandboxed, no script at all)."""
    html = PREVIEWS.get(template_id, key)
    if html is None:
        raise NotFound("this preview has expired: edit the template to render it again")
    return HTMLResponse(html, headers=frame_headers())


Publisher = Callable[[ControlState, int, User], Awaitable[PublishOut]]


async def _publish(state: ControlState, template_id: int, user: User) -> PublishOut:
    return await publishing.publish_template(state=state, template_id=template_id, actor=user.login)


async def _unpublish(state: ControlState, template_id: int, _user: User) -> PublishOut:
    return await publishing.unpublish_template(state=state, template_id=template_id)


async def _pause(state: ControlState, template_id: int, _user: User) -> PublishOut:
    return await publishing.pause_template(state=state, template_id=template_id)


async def _resume(state: ControlState, template_id: int, _user: User) -> PublishOut:
    return await publishing.resume_template(state=state, template_id=template_id)


#: The state changes of the status panel: what each runs, the verb its message starts with, and
#: what its route does.
_ACTIONS: dict[str, tuple[Publisher, str, str]] = {
    "publish": (
        _publish,
        "Published",
        "Publish to every enabled execution instance (again to retry a partial failure).",
    ),
    "unpublish": (
        _unpublish,
        "Unpublished",
        "Remove the template from every execution instance (back to Being edited).",
    ),
    "pause": (_pause, "Paused", "Pause the template everywhere: its events wait."),
    "resume": (_resume, "Resumed", "Resume the template everywhere."),
}


def _done(verb: str, outcome: PublishOut) -> str:
    version = f" version {outcome.version}" if outcome.version else ""
    where = "every execution instance" if outcome.complete else "some execution instances only"
    return f"{verb}{version} on {where}."


def _state_route(action: str) -> Callable[..., Awaitable[HTMLResponse]]:
    """Return the route of one state change: run it, then show the status panel."""
    run, verb, doc = _ACTIONS[action]

    async def change_state(
        request: Request, template_id: int, state: StateDep, user: EditorUser
    ) -> HTMLResponse:
        outcome = await run(state, template_id, user)
        return _status(
            request,
            user,
            outcome.template,
            done=_done(verb, outcome),
            outcome=outcome,
            headers=_PUBLISH_TRIGGER,
        )

    change_state.__name__ = change_state.__qualname__ = action
    change_state.__doc__ = doc
    return change_state


for _action in _ACTIONS:
    router.post(f"/templates/{{template_id}}/{_action}", response_class=HTMLResponse)(
        _state_route(_action)
    )


@router.post("/templates/{template_id}/rollback", response_class=HTMLResponse)
async def rollback(
    request: Request,
    template_id: RowId,
    state: StateDep,
    user: EditorUser,
    version: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Publish an older version again as a new version; the draft becomes its content."""
    chosen = parse_form(RollbackIn, version=version)
    outcome = await publishing.rollback_template(
        state=state, template_id=template_id, version=chosen.version, actor=user.login
    )
    # the editor is drawn again with the draft rolled back to, its field picker with it
    fields = await run_in_threadpool(templates_seeds.field_picker_fields, state, outcome.template)
    return _status(
        request,
        user,
        outcome.template,
        done=_done(f"Rolled back to version {chosen.version}: published as", outcome),
        outcome=outcome,
        editor=fields,
        headers=_PUBLISH_TRIGGER,
        rolled_back=True,
    )


@router.get("/templates/{template_id}/versions", response_class=HTMLResponse)
async def versions_section(
    request: Request, template_id: int, state: StateDep, user: ViewerUser
) -> HTMLResponse:
    """Return the versions section (refreshed after each publication)."""

    def load() -> dict[str, Any]:
        return {
            "template": service.get_template(db=state.db, template_id=template_id),
            "versions": versions.list_versions(db=state.db, template_id=template_id, page=_ALL),
        }

    found = await run_in_threadpool(load)
    return page(request, "_template_versions.html", user, **found, body_only=True, **_common())


@router.get("/templates/{template_id}/diff", response_class=HTMLResponse)
async def diff(
    request: Request,
    template_id: RowId,
    state: StateDep,
    user: ViewerUser,
) -> HTMLResponse:
    """Show the field-by-field difference between two versions (or a version and the draft)."""
    query = request.query_params
    source_text, target_text = query.get("from", ""), query.get("to", "")
    try:
        source = int(source_text)
        target = int(target_text) if target_text else None
    except ValueError:
        raise InvalidRequest("choose the versions to compare", field="from") from None
    found = await run_in_threadpool(
        lambda: versions.diff_versions(
            db=state.db, template_id=template_id, source=source, target=target
        )
    )
    return page(request, "_template_diff.html", user, diff=found, template_id=template_id)


# Seed addresses and proofs live in their own module; their routes are served with these.
router.include_router(templates_seeds.router)
