"""Seed addresses of a template (``/api/v1/templates/{id}/seeds``)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from control_instance.deps import EditorDep, StateDep, ViewerDep
from control_instance.pagination import Page, PageDep, RowId
from control_instance.templates import seeds
from control_instance.templates.schemas import SeedCreate, SeedPublic, SeedUpdate

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/templates/{template_id}/seeds", tags=["seed addresses"])


@router.get("", response_model=Page[SeedPublic])
async def list_seeds(
    template_id: RowId, _: ViewerDep, state: StateDep, page: PageDep
) -> Page[SeedPublic]:
    """List a template's seed addresses."""
    return await run_in_threadpool(
        lambda: seeds.list_seeds(db=state.db, template_id=template_id, page=page)
    )


@router.post("", response_model=SeedPublic, status_code=201)
async def create_seed(
    template_id: RowId, body: SeedCreate, _: EditorDep, state: StateDep
) -> SeedPublic:
    """Add a seed address (malformed ctx XML is refused with its line)."""
    return await run_in_threadpool(
        lambda: seeds.create_seed(db=state.db, template_id=template_id, new=body)
    )


@router.get("/{seed_id}", response_model=SeedPublic)
async def get_seed(template_id: RowId, seed_id: RowId, _: ViewerDep, state: StateDep) -> SeedPublic:
    """Return one seed address."""
    return await run_in_threadpool(
        lambda: seeds.get_seed(db=state.db, template_id=template_id, seed_id=seed_id)
    )


@router.patch("/{seed_id}", response_model=SeedPublic)
async def update_seed(
    template_id: RowId, seed_id: RowId, body: SeedUpdate, _: EditorDep, state: StateDep
) -> SeedPublic:
    """Change a seed address."""
    return await run_in_threadpool(
        lambda: seeds.update_seed(
            db=state.db, template_id=template_id, seed_id=seed_id, changes=body
        )
    )


@router.delete("/{seed_id}", status_code=204, response_class=Response)
async def delete_seed(
    template_id: RowId, seed_id: RowId, _: EditorDep, state: StateDep
) -> Response:
    """Delete a seed address."""
    await run_in_threadpool(
        lambda: seeds.delete_seed(db=state.db, template_id=template_id, seed_id=seed_id)
    )
    return Response(status_code=204)
