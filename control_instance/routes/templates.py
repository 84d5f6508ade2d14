"""Templates (``/api/v1/templates``): drafts, publishing, versions, preview and proof."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from control_instance.deps import EditorDep, StateDep, ViewerDep
from control_instance.pagination import Page, PageDep, RowId
from control_instance.templates import publishing, seed_event, service, testing, versions
from control_instance.templates.content import ChannelName
from control_instance.templates.schemas import (
    PreviewIn,
    PreviewOut,
    ProofIn,
    ProofOut,
    ProofRecord,
    PublishOut,
    RollbackIn,
    SeedEventIn,
    SeedEventOut,
    TemplateCreate,
    TemplatePublic,
    TemplateState,
    TemplateUpdate,
    VersionDiff,
    VersionPublic,
)
from services.safe_input import MAX_INT64

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


@router.get("", response_model=Page[TemplatePublic])
async def list_templates(
    _: ViewerDep,
    state: StateDep,
    page: PageDep,
    event_type: str | None = None,
    channel: ChannelName | None = None,
    template_state: Annotated[TemplateState | None, Query(alias="state")] = None,
) -> Page[TemplatePublic]:
    """List the templates, optionally by event type, channel and state."""
    return await run_in_threadpool(
        lambda: service.list_templates(
            db=state.db, page=page, event_type=event_type, channel=channel, state=template_state
        )
    )


@router.post("", response_model=TemplatePublic, status_code=201)
async def create_template(
    body: TemplateCreate, actor: EditorDep, state: StateDep
) -> TemplatePublic:
    """Create a template (Being edited); a syntax error is reported with its field and line."""
    return await run_in_threadpool(
        lambda: service.create_template(db=state.db, new=body, actor=actor.login)
    )


@router.get("/{template_id}", response_model=TemplatePublic)
async def get_template(template_id: RowId, _: ViewerDep, state: StateDep) -> TemplatePublic:
    """Return one template with its draft, state and deployments."""
    return await run_in_threadpool(
        lambda: service.get_template(db=state.db, template_id=template_id)
    )


@router.patch("/{template_id}", response_model=TemplatePublic)
async def update_template(
    template_id: RowId, body: TemplateUpdate, actor: EditorDep, state: StateDep
) -> TemplatePublic:
    """Edit the draft (publish again to send it to the instances)."""
    return await run_in_threadpool(
        lambda: service.update_template(
            db=state.db, template_id=template_id, changes=body, actor=actor.login
        )
    )


@router.delete("/{template_id}", status_code=204, response_class=Response)
async def delete_template(template_id: RowId, _: EditorDep, state: StateDep) -> Response:
    """Delete a template Being edited."""
    await run_in_threadpool(lambda: service.delete_template(db=state.db, template_id=template_id))
    return Response(status_code=204)


@router.post("/{template_id}/preview", response_model=PreviewOut)
async def preview(template_id: RowId, body: PreviewIn, _: ViewerDep, state: StateDep) -> PreviewOut:
    """Render the draft (or a version, or unsaved content) with a seed address."""
    return await testing.preview_template(state=state, template_id=template_id, body=body)


@router.post("/{template_id}/proof", response_model=ProofOut)
async def proof(template_id: RowId, body: ProofIn, actor: EditorDep, state: StateDep) -> ProofOut:
    """Send the draft to the seed addresses through mid-sourcing, marked as proofs."""
    return await testing.send_proof(
        state=state, template_id=template_id, body=body, actor=actor.login
    )


@router.post("/{template_id}/test-event", response_model=SeedEventOut)
async def send_test_event(
    template_id: RowId, body: SeedEventIn, actor: EditorDep, state: StateDep
) -> SeedEventOut:
    """Push a seed address as a real event of the template's type through the execution cell."""
    return await seed_event.send_seed_event(
        state=state, template_id=template_id, body=body, actor=actor.login
    )


@router.get("/{template_id}/proofs", response_model=Page[ProofRecord])
async def list_proofs(
    template_id: RowId, _: ViewerDep, state: StateDep, page: PageDep
) -> Page[ProofRecord]:
    """List the proofs sent for this template, newest first (Campaign's Audit tab)."""
    return await run_in_threadpool(
        lambda: testing.list_proofs(db=state.db, template_id=template_id, page=page)
    )


@router.post("/{template_id}/publish", response_model=PublishOut)
async def publish(template_id: RowId, actor: EditorDep, state: StateDep) -> PublishOut:
    """Publish to every enabled execution instance; again to retry a partial failure."""
    return await publishing.publish_template(
        state=state, template_id=template_id, actor=actor.login
    )


@router.post("/{template_id}/unpublish", response_model=PublishOut)
async def unpublish(template_id: RowId, _: EditorDep, state: StateDep) -> PublishOut:
    """Remove the template from every execution instance (back to Being edited)."""
    return await publishing.unpublish_template(state=state, template_id=template_id)


@router.post("/{template_id}/pause", response_model=PublishOut)
async def pause(template_id: RowId, _: EditorDep, state: StateDep) -> PublishOut:
    """Pause the template everywhere: its events wait."""
    return await publishing.pause_template(state=state, template_id=template_id)


@router.post("/{template_id}/resume", response_model=PublishOut)
async def resume(template_id: RowId, _: EditorDep, state: StateDep) -> PublishOut:
    """Resume the template everywhere."""
    return await publishing.resume_template(state=state, template_id=template_id)


@router.post("/{template_id}/rollback", response_model=PublishOut)
async def rollback(
    template_id: RowId, body: RollbackIn, actor: EditorDep, state: StateDep
) -> PublishOut:
    """Publish an older version again, as a new version."""
    return await publishing.rollback_template(
        state=state, template_id=template_id, version=body.version, actor=actor.login
    )


@router.get("/{template_id}/versions", response_model=Page[VersionPublic])
async def list_versions(
    template_id: RowId, _: ViewerDep, state: StateDep, page: PageDep
) -> Page[VersionPublic]:
    """List the published versions, newest first."""
    return await run_in_threadpool(
        lambda: versions.list_versions(db=state.db, template_id=template_id, page=page)
    )


@router.get("/{template_id}/versions/diff", response_model=VersionDiff)
async def diff_versions(
    template_id: RowId,
    _: ViewerDep,
    state: StateDep,
    source: Annotated[int, Query(alias="from", ge=1, le=MAX_INT64)],
    target: Annotated[
        int | None, Query(alias="to", ge=1, le=MAX_INT64, description="Default: the draft.")
    ] = None,
) -> VersionDiff:
    """Compare two versions (or a version and the draft) field by field."""
    return await run_in_threadpool(
        lambda: versions.diff_versions(
            db=state.db, template_id=template_id, source=source, target=target
        )
    )


@router.get("/{template_id}/versions/{version}", response_model=VersionPublic)
async def get_version(
    template_id: RowId, version: RowId, _: ViewerDep, state: StateDep
) -> VersionPublic:
    """Return one published version."""
    return await run_in_threadpool(
        lambda: versions.get_version(db=state.db, template_id=template_id, version=version)
    )
