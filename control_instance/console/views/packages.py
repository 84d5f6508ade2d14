"""Console section: the environment, and packages (DESIGN §7): export, import with a dry run.

Export and import call the API's use cases (``control_instance/packages/``): exporting needs the
editor role, importing the admin role. An import is shown as a dry run first (created, updated,
unchanged per entity, with the changed fields); the reviewed package is posted again to apply it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from control_instance.accounts.service import list_accounts
from control_instance.console.deps import AdminUser, EditorUser, ViewerUser
from control_instance.console.rendering import page
from control_instance.deps import StateDep
from control_instance.packages.document import MAX_PACKAGE_BYTES
from control_instance.packages.importing import import_package
from control_instance.packages.model import FORMAT_VERSION
from control_instance.pagination import PageParams
from control_instance.routes import packages as api
from control_instance.state import ControlState
from control_instance.templates.service import list_templates
from services.errors import InvalidRequest, PayloadTooLarge
from services.ui import is_htmx
from services.version import VERSION

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_ALL = PageParams(limit=500, offset=0)

Names = Annotated[list[str], Query()]


def _choices(state: ControlState) -> dict[str, Any]:
    return {
        "templates": list_templates(db=state.db, page=_ALL).items,
        "accounts": list_accounts(db=state.db, page=_ALL).items,
    }


def _environment(state: ControlState) -> dict[str, str]:
    return {
        "name": state.settings.environment.value,
        "version": VERSION,
        "package_format": FORMAT_VERSION,
    }


@router.get("/packages", response_class=HTMLResponse)
async def packages_page(request: Request, state: StateDep, user: ViewerUser) -> HTMLResponse:
    """Show the environment, the export form (editors) and the import form (admins)."""
    choices = await run_in_threadpool(_choices, state)
    return page(
        request,
        "packages.html",
        user,
        active="/packages",
        env=_environment(state),
        report=None,
        package_xml="",
        **choices,
    )


@router.get("/packages/export", response_model=None)
async def export(
    state: StateDep,
    user: EditorUser,
    template: Names = [],  # noqa: B006 - FastAPI copies query defaults
    account: Names = [],  # noqa: B006
    name: Annotated[str, Query(max_length=64)] = "export",
    label: Annotated[str, Query(max_length=255)] = "",
) -> Response:
    """Download a package of the chosen templates (all when none is chosen) and accounts."""
    return await api.export(
        actor=user.principal,
        state=state,
        template=template,
        event_type=[],
        account=account,
        name=name.strip() or "export",
        label=label.strip(),
    )


async def _package_bytes(request: Request) -> tuple[bytes, bool]:
    """Return the posted package (the file, else the pasted text) and whether to apply it."""
    form = await request.form(max_part_size=MAX_PACKAGE_BYTES + 1)
    try:
        upload = form.get("file")
        data = b""
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(MAX_PACKAGE_BYTES + 1)
        if not data:
            text = form.get("xml")
            data = text.strip().encode("utf-8") if isinstance(text, str) else b""
        apply = form.get("step") == "apply"
    finally:
        await form.close()  # the uploaded file's temporary copy
    if not data:
        raise InvalidRequest("choose a package file or paste the package's XML", field="xml")
    if len(data) > MAX_PACKAGE_BYTES:
        raise PayloadTooLarge(f"a package may have at most {MAX_PACKAGE_BYTES} bytes")
    return data, apply


@router.post("/packages/import", response_class=HTMLResponse)
async def import_(request: Request, state: StateDep, user: AdminUser) -> HTMLResponse:
    """Check a package and show what it changes (dry run), or apply a reviewed package."""
    data, apply = await _package_bytes(request)
    report = await run_in_threadpool(
        lambda: import_package(
            db=state.db, box=state.box, data=data, dry_run=not apply, actor=user.login
        )
    )
    context: dict[str, Any] = {
        "report": report,
        "package_xml": data.decode("utf-8", errors="replace"),
    }
    if is_htmx(request):
        return page(request, "_ops_import_report.html", user, **context)
    choices = await run_in_threadpool(_choices, state)
    return page(
        request,
        "packages.html",
        user,
        active="/packages",
        env=_environment(state),
        **context,
        **choices,
    )
