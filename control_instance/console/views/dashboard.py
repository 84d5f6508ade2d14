"""The dashboard: the environment, what is authored and published, the latest events, and where
to go next."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from control_instance.accounts.service import list_accounts
from control_instance.archive import history
from control_instance.archive.schemas import ArchivedEventPublic
from control_instance.console.deps import ViewerUser
from control_instance.console.rendering import page
from control_instance.console.views.events import CHANNELS, STATUS_LABELS
from control_instance.deps import StateDep
from control_instance.event_types.service import list_event_types
from control_instance.pagination import Page, PageParams
from control_instance.templates.schemas import TemplateState
from control_instance.templates.service import list_templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_COUNT = PageParams(limit=1, offset=0)
#: The newest archived events the dashboard lists.
_RECENT = PageParams(limit=8, offset=0)


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Show the dashboard."""

    def counts() -> dict[str, int]:
        db = state.db
        found = {
            "event_types": list_event_types(db=db, page=_COUNT).total,
            "templates": list_templates(db=db, page=_COUNT).total,
            "instances": list_accounts(db=db, page=_COUNT).total,
        }
        for template_state in TemplateState:
            found[template_state.name.lower()] = list_templates(
                db=db, page=_COUNT, state=template_state
            ).total
        return found

    def recent() -> Page[ArchivedEventPublic]:
        return history.list_events(db=state.db, where=history.EventFilter(), page=_RECENT)

    return page(
        request,
        "dashboard.html",
        user,
        active="/",
        counts=await run_in_threadpool(counts),
        recent=await run_in_threadpool(recent),
        status_labels=STATUS_LABELS,
        channels=CHANNELS,
    )
