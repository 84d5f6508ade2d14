"""Environment and packages (``/api/v1/environment``, ``/api/v1/packages``), DESIGN §7.

Exporting needs the editor role (it is the first step of moving configuration to another
environment); importing changes every kind of configuration at once, so it needs admin.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from control_instance.deps import AdminDep, EditorDep, StateDep
from control_instance.packages.document import MAX_PACKAGE_BYTES
from control_instance.packages.exporting import export_package
from control_instance.packages.importing import import_package
from control_instance.packages.model import FORMAT_VERSION
from control_instance.packages.schemas import EnvironmentInfo, ImportReport
from services.errors import PayloadTooLarge
from services.safe_input import XmlText
from services.version import VERSION

__all__ = ["ENVIRONMENT_HEADER", "router"]

router = APIRouter(prefix="/api/v1", tags=["packages"])

#: Every package answer names the environment of the control instance that gave it.
ENVIRONMENT_HEADER = "X-Mcsim-Environment"

Names = Annotated[list[XmlText], Query()]


@router.get("/environment", response_model=EnvironmentInfo)
async def environment(state: StateDep, response: Response) -> EnvironmentInfo:
    """Return this control instance's environment, mcsim version and package format."""
    name = state.settings.environment.value
    response.headers[ENVIRONMENT_HEADER] = name
    return EnvironmentInfo(environment=name, version=VERSION, package_format=FORMAT_VERSION)


@router.get(
    "/packages/export",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}, "description": "The package."}},
)
async def export(
    actor: EditorDep,
    state: StateDep,
    template: Names = [],  # noqa: B006 - FastAPI copies query defaults
    event_type: Names = [],  # noqa: B006
    account: Names = [],  # noqa: B006
    technical_account: Names = [],  # noqa: B006 - client ids; never a secret
    name: Annotated[XmlText, Query(max_length=64)] = "export",
    label: Annotated[XmlText, Query(max_length=255)] = "",
) -> Response:
    """Export chosen templates (with their event types and seeds), event types and accounts."""
    environment = state.settings.environment.value
    document = await run_in_threadpool(
        lambda: export_package(
            db=state.db,
            environment=environment,
            author=actor.login,
            templates=template,
            event_types=event_type,
            accounts=account,
            technical_accounts=technical_account,
            name=name,
            label=label,
        )
    )
    return Response(
        document,
        media_type="application/xml",
        headers={
            ENVIRONMENT_HEADER: environment,
            "Content-Disposition": f'attachment; filename="mcsim-{environment}-package.xml"',
        },
    )


async def _read_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_PACKAGE_BYTES:
            raise PayloadTooLarge(f"a package may have at most {MAX_PACKAGE_BYTES} bytes")
    return bytes(body)


@router.post(
    "/packages/import",
    response_model=ImportReport,
    openapi_extra={"requestBody": {"content": {"application/xml": {}}, "required": True}},
)
async def import_(
    request: Request, actor: AdminDep, state: StateDep, response: Response, dry_run: bool = False
) -> ImportReport:
    """Import a package (XML body): a dry run lists the changes; else all apply or none."""
    data = await _read_body(request)
    report = await run_in_threadpool(
        lambda: import_package(
            db=state.db, box=state.box, data=data, dry_run=dry_run, actor=actor.login
        )
    )
    response.headers[ENVIRONMENT_HEADER] = state.settings.environment.value
    return report
