"""Ask a service for its ``GET /health`` answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Health", "check_health", "health_client"]


@dataclass(frozen=True)
class Health:
    """What one ``GET /health`` told (or why it told nothing)."""

    url: str
    http_status: int | None
    report: dict[str, Any]
    error: str | None = None

    @property
    def up(self) -> bool:
        """Return whether the service answered 200."""
        return self.http_status == 200

    def is_service(self, service: str, instance_id: int | None) -> bool:
        """Return whether the answer comes from ``service`` (and that instance id)."""
        if self.report.get("service") != service:
            return False
        return instance_id is None or self.report.get("instance_id") == instance_id

    def field(self, key: str) -> str:
        """Return one field of the report as text, ``-`` when it is missing."""
        value = self.report.get(key)
        return "-" if value is None else str(value)


def health_client(timeout: float = 2.0) -> httpx.AsyncClient:
    """Return a client for health checks (no proxies: the stack is on this machine)."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), trust_env=False)


async def check_health(client: httpx.AsyncClient, base_url: str) -> Health:
    """Return the health of the service at ``base_url``; never raises for network errors."""
    url = f"{base_url}/health"
    try:
        response = await client.get(url)
    except httpx.TimeoutException:
        return Health(url, None, {}, "no answer (timeout)")
    except httpx.HTTPError as exc:
        return Health(url, None, {}, _network_error(exc))
    try:
        body = response.json()
    except ValueError:
        body = None
    report = body if isinstance(body, dict) else {}
    error = None if response.status_code == 200 else _http_error(response.status_code, report)
    return Health(url, response.status_code, report, error)


def _http_error(status: int, report: dict[str, Any]) -> str:
    """Return ``HTTP 503 (starting, database unreachable)``: the code and what the report says."""
    said = [str(report["status"])] if report.get("status") else []
    if report.get("database") not in {None, "ok", "none"}:
        said.append(f"database {report['database']}")
    return f"HTTP {status}" + (f" ({', '.join(said)})" if said else "")


def _network_error(exc: httpx.HTTPError) -> str:
    text = str(exc)
    return f"not reachable: {text}" if text else f"not reachable ({type(exc).__name__})"
