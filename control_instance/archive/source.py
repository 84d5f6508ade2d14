"""Read an execution instance's ``/_mc/events`` and ``/_mc/stats`` with its account."""

from __future__ import annotations

from typing import Any

import httpx

from control_instance.accounts.client import InstanceCallError
from control_instance.accounts.service import Target

__all__ = ["read_json"]


async def read_json(
    http: httpx.AsyncClient,
    target: Target,
    path: str,
    *,
    params: dict[str, Any] | None = None,
    wait: float,
) -> Any:
    """GET ``/_mc<path>`` on a target and return its JSON body, or raise InstanceCallError."""
    url = target.url.rstrip("/") + "/_mc" + path
    try:
        answer = await http.get(
            url, params=params, auth=(target.login, target.password), timeout=wait
        )
    except httpx.TimeoutException:
        raise InstanceCallError(f"no answer within {wait:g} s (GET /_mc{path})") from None
    except httpx.HTTPError as exc:
        raise InstanceCallError(f"cannot reach the instance: {exc!r}") from None
    if answer.status_code >= 400:
        raise InstanceCallError(
            f"HTTP {answer.status_code} on GET /_mc{path}: {answer.text[:200]}",
            status=answer.status_code,
        )
    try:
        return answer.json()
    except ValueError:
        raise InstanceCallError(f"GET /_mc{path} did not answer JSON") from None
