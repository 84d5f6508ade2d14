"""Console section: a template's seed addresses (list, add, edit, delete) and proofs.

The same use cases as ``/api/v1/templates/{id}/seeds`` and ``/api/v1/templates/{id}/proof``:
a malformed ctx is refused with the XML parser's line and column, and nothing changes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from control_instance.console.deps import EditorUser, User, ViewerUser
from control_instance.console.rendering import page
from control_instance.console.views.templates_forms import parse_form, text_fields
from control_instance.deps import StateDep
from control_instance.pagination import PageParams
from control_instance.state import ControlState
from control_instance.templates import seed_event, seeds, service, testing
from control_instance.templates.fields import personalization_fields
from control_instance.templates.schemas import (
    ProofIn,
    SeedCreate,
    SeedEventIn,
    SeedUpdate,
    TemplatePublic,
)
from services.errors import InvalidRequest

__all__ = ["field_picker_fields", "router"]

router = APIRouter(include_in_schema=False)
_ALL = PageParams(limit=500, offset=0)
_RECENT = PageParams(limit=10, offset=0)
_SEEDS_CHANGED = {"HX-Trigger": "mcsim-seeds"}
_SEED_FIELDS = ("label", "address", "external_id", "ctx")


def _seed_values(form: FormData) -> dict[str, str]:
    sent = text_fields(form, _SEED_FIELDS)
    return {name: value if name == "ctx" else value.strip() for name, value in sent.items()}


async def _section(
    request: Request, state: ControlState, user: User, template_id: int, done: str | None
) -> HTMLResponse:
    def load() -> dict[str, Any]:
        return {
            "template": service.get_template(db=state.db, template_id=template_id),
            "seeds": seeds.list_seeds(db=state.db, template_id=template_id, page=_ALL),
        }

    answer = page(
        request, "_template_seeds.html", user, done=done, **(await run_in_threadpool(load))
    )
    answer.headers.update(_SEEDS_CHANGED)
    return answer


def field_picker_fields(state: ControlState, template: TemplatePublic) -> list[str]:
    """Return what the editor's field picker offers: the event's fields and the seeds' ctx."""
    listed = seeds.list_seeds(db=state.db, template_id=template.id, page=_ALL)
    return personalization_fields(template.channel, (s.ctx for s in listed.items))


@router.get("/templates/{template_id}/field-picker", response_class=HTMLResponse)
async def field_picker(
    request: Request, template_id: int, state: StateDep, user: ViewerUser
) -> HTMLResponse:
    """Return the editor's personalization-field picker (refreshed when the seeds change)."""

    def load() -> dict[str, Any]:
        template = service.get_template(db=state.db, template_id=template_id)
        return {"template": template, "fields": field_picker_fields(state, template)}

    found = await run_in_threadpool(load)
    return page(request, "_template_field_picker.html", user, **found)


@router.get("/templates/{template_id}/seed-picker", response_class=HTMLResponse)
async def seed_picker(
    request: Request, template_id: int, state: StateDep, user: ViewerUser
) -> HTMLResponse:
    """Return the preview's choice of seed address (refreshed when the seeds change)."""
    listed = await run_in_threadpool(
        lambda: seeds.list_seeds(db=state.db, template_id=template_id, page=_ALL)
    )
    return page(request, "_template_seed_picker.html", user, template_id=template_id, seeds=listed)


@router.post("/templates/{template_id}/seeds", response_class=HTMLResponse)
async def add_seed(
    request: Request, template_id: int, state: StateDep, user: EditorUser
) -> HTMLResponse:
    """Add a seed address (its ctx must be well-formed XML with a <ctx> root)."""
    new = parse_form(SeedCreate, **_seed_values(await request.form()))
    created = await run_in_threadpool(
        lambda: seeds.create_seed(db=state.db, template_id=template_id, new=new)
    )
    return await _section(request, state, user, template_id, f"Seed address {created.label} added.")


@router.post("/templates/{template_id}/seeds/{seed_id}", response_class=HTMLResponse)
async def edit_seed(
    request: Request, template_id: int, seed_id: int, state: StateDep, user: EditorUser
) -> HTMLResponse:
    """Change a seed address."""
    changes = parse_form(SeedUpdate, **_seed_values(await request.form()))
    changed = await run_in_threadpool(
        lambda: seeds.update_seed(
            db=state.db, template_id=template_id, seed_id=seed_id, changes=changes
        )
    )
    return await _section(
        request, state, user, template_id, f"Seed address {changed.label} changed."
    )


@router.post("/templates/{template_id}/seeds/{seed_id}/delete", response_class=HTMLResponse)
async def delete_seed(
    request: Request, template_id: int, seed_id: int, state: StateDep, user: EditorUser
) -> HTMLResponse:
    """Delete a seed address."""

    def remove() -> str:
        label = seeds.get_seed(db=state.db, template_id=template_id, seed_id=seed_id).label
        seeds.delete_seed(db=state.db, template_id=template_id, seed_id=seed_id)
        return label

    label = await run_in_threadpool(remove)
    return await _section(request, state, user, template_id, f"Seed address {label} deleted.")


def _seed_ids(form: FormData) -> list[int] | None:
    chosen = [value for value in form.getlist("seed_ids") if isinstance(value, str) and value]
    if not chosen:
        return None
    try:
        return [int(value) for value in chosen]
    except ValueError:
        raise InvalidRequest("choose seed addresses from the list", field="seed_ids") from None


@router.post("/templates/{template_id}/proof", response_class=HTMLResponse)
async def send_proof(
    request: Request, template_id: int, state: StateDep, user: EditorUser
) -> HTMLResponse:
    """Send the saved draft to the chosen seed addresses (all when none is chosen)."""
    body = ProofIn(seed_ids=_seed_ids(await request.form()))
    sent = await testing.send_proof(
        state=state, template_id=template_id, body=body, actor=user.login
    )
    proofs = await run_in_threadpool(
        lambda: testing.list_proofs(db=state.db, template_id=template_id, page=_RECENT)
    )
    return page(
        request,
        "_template_proofs.html",
        user,
        template_id=template_id,
        proof=sent,
        proofs=proofs,
    )


@router.post("/templates/{template_id}/test-event", response_class=HTMLResponse)
async def send_test_event(
    request: Request, template_id: int, state: StateDep, user: EditorUser
) -> HTMLResponse:
    """Push a seed address as a real event through the execution cell; show its plId and links."""
    seed_id = (await request.form()).get("seed_id")
    try:
        body = SeedEventIn(seed_id=int(seed_id) if isinstance(seed_id, str) and seed_id else None)
    except ValueError:
        raise InvalidRequest("choose a seed address from the list", field="seed_id") from None
    sent = await seed_event.send_seed_event(
        state=state, template_id=template_id, body=body, actor=user.login
    )
    return page(
        request,
        "_template_test_event.html",
        user,
        sent=sent,
        archive_seconds=f"{state.settings.archive_interval_seconds:g}",
    )
