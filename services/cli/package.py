"""``mcsim package export|import``: move configuration between control instances (DESIGN §7).

Both commands call a control instance's REST API with a bearer token from
``POST /api/v1/auth/login`` and name the environment of the instance they talked to, so a
package is never installed in production by mistake unseen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = ["ENVIRONMENT_HEADER", "PackageCommandError", "export_to_file", "import_file"]

ENVIRONMENT_HEADER = "X-Mcsim-Environment"


class PackageCommandError(RuntimeError):
    """The control instance refused the call, or could not be reached."""


@dataclass(frozen=True)
class Exported:
    """What ``mcsim package export`` wrote."""

    environment: str
    path: Path
    size: int


def _client(control: str, token: str, transport: httpx.BaseTransport | None) -> httpx.Client:
    return httpx.Client(
        base_url=control.rstrip("/"),
        headers={"authorization": f"Bearer {token}"},
        timeout=60.0,
        transport=transport,
    )


def _check(answer: httpx.Response) -> None:
    if answer.is_success:
        return
    try:
        body = answer.json()
        message = body.get("message", answer.text)
        if body.get("detail"):
            message = f"{message} ({body['detail']})"
    except ValueError:
        message = answer.text
    raise PackageCommandError(f"HTTP {answer.status_code}: {message}")


def export_to_file(
    *,
    control: str,
    token: str,
    out: Path,
    templates: Sequence[str] = (),
    event_types: Sequence[str] = (),
    accounts: Sequence[str] = (),
    technical_accounts: Sequence[str] = (),
    transport: httpx.BaseTransport | None = None,
) -> Exported:
    """Export a package from a control instance into ``out``."""
    params = {
        "template": list(templates),
        "event_type": list(event_types),
        "account": list(accounts),
        "technical_account": list(technical_accounts),
    }
    try:
        with _client(control, token, transport) as client:
            answer = client.get("/api/v1/packages/export", params=params)
    except httpx.HTTPError as exc:
        raise PackageCommandError(f"cannot reach {control}: {exc}") from None
    _check(answer)
    out.write_bytes(answer.content)
    return Exported(
        environment=answer.headers.get(ENVIRONMENT_HEADER, "unknown"),
        path=out,
        size=len(answer.content),
    )


def import_file(
    *,
    control: str,
    token: str,
    path: Path,
    dry_run: bool,
    transport: httpx.BaseTransport | None = None,
) -> tuple[str, dict[str, Any]]:
    """Send a package to a control instance; return its environment and the import report."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PackageCommandError(f"cannot read {path}: {exc.strerror}") from None
    try:
        with _client(control, token, transport) as client:
            answer = client.post(
                "/api/v1/packages/import",
                params={"dry_run": "true" if dry_run else "false"},
                content=data,
                headers={"content-type": "application/xml"},
            )
    except httpx.HTTPError as exc:
        raise PackageCommandError(f"cannot reach {control}: {exc}") from None
    _check(answer)
    report: dict[str, Any] = answer.json()
    return answer.headers.get(ENVIRONMENT_HEADER, "unknown"), report
