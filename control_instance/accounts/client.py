"""The client of an execution instance's control-plane API (``/_mc/``, DESIGN §3.7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from services.clock import ClockReport

__all__ = ["InstanceCallError", "InstanceClient", "InstanceInfo"]


class InstanceCallError(Exception):
    """An execution instance could not be reached, or refused a control-plane call."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class InstanceInfo:
    """What ``GET /_mc/info`` says about an instance."""

    instance_id: int
    version: str
    public_url: str
    event_types: list[str]
    pending_events: int


class InstanceClient:
    """Call one execution instance with its account (HTTP Basic)."""

    def __init__(
        self, http: httpx.AsyncClient, *, url: str, login: str, password: str, timeout: float
    ) -> None:
        self.http = http
        self.base = url.rstrip("/") + "/_mc"
        self.auth = (login, password)
        self.timeout = timeout

    async def _call(
        self, method: str, path: str, *, json: Any = None, missing_ok: bool = False
    ) -> Any:
        try:
            answer = await self.http.request(
                method, self.base + path, json=json, auth=self.auth, timeout=self.timeout
            )
        except httpx.TimeoutException:
            raise InstanceCallError(
                f"no answer within {self.timeout:g} s ({method} /_mc{path})"
            ) from None
        except httpx.HTTPError as exc:
            raise InstanceCallError(f"cannot reach the instance: {exc!r}") from None
        if answer.status_code == 404 and missing_ok:
            return None
        if answer.status_code >= 400:
            raise InstanceCallError(_describe(answer), status=answer.status_code)
        if answer.status_code == 204 or not answer.content:
            return None
        try:
            return answer.json()
        except ValueError:
            raise InstanceCallError(
                f"the instance answered something that is not JSON (HTTP {answer.status_code})",
                status=answer.status_code,
            ) from None

    async def info(self) -> InstanceInfo:
        """Return the instance's id, version, public URL, event types and queue depth."""
        body = await self._call("GET", "/info")
        try:
            return InstanceInfo(
                instance_id=int(body["instance_id"]),
                version=str(body["version"]),
                public_url=str(body["public_url"]),
                event_types=[str(name) for name in body["event_types"]],
                pending_events=int(body["pending_events"]),
            )
        except (KeyError, TypeError, ValueError):
            raise InstanceCallError("the instance's /_mc/info answer is not understood") from None

    async def assign_instance_id(self, instance_id: int) -> None:
        """Make ``instance_id`` the instance's id (refused by an instance holding events)."""
        await self._call("PUT", "/instance-id", json={"instance_id": instance_id})

    async def put_event_type(self, name: str, label: str) -> None:
        """Publish an event type."""
        await self._call("PUT", f"/event-types/{name}", json={"label": label})

    async def delete_event_type(self, name: str) -> None:
        """Unpublish an event type (already gone is fine)."""
        await self._call("DELETE", f"/event-types/{name}", missing_ok=True)

    async def put_operator(self, login: str, password: str) -> None:
        """Create an operator or set its password."""
        await self._call("PUT", f"/operators/{login}", json={"password": password})

    async def delete_operator(self, login: str) -> None:
        """Delete an operator (already gone is fine)."""
        await self._call("DELETE", f"/operators/{login}", missing_ok=True)

    async def add_token(self, token: str, *, label: str, login: str) -> None:
        """Accept a technical token."""
        body = {"token": token, "label": label, "login": login}
        await self._call("POST", "/technical-tokens", json=body)

    async def revoke_token(self, token: str) -> None:
        """Stop accepting a technical token (already gone is fine)."""
        await self._call("POST", "/technical-tokens/revoke", json={"token": token}, missing_ok=True)

    async def list_templates(self) -> list[dict[str, Any]]:
        """Return the templates published on the instance (one entry per queue)."""
        body = await self._call("GET", "/templates")
        return list(body or [])

    async def put_template(
        self, name: str, *, event_type: str, channel: int, version: int, content: dict[str, str]
    ) -> bool:
        """Publish a template version to both queues; return whether anything changed."""
        body = {
            "event_type": event_type,
            "channel": channel,
            "version": version,
            "content": content,
            "queues": ["rt", "batch"],
        }
        answer = await self._call("PUT", f"/templates/{name}", json=body)
        return bool(answer and answer.get("changed"))

    async def delete_template(self, name: str) -> None:
        """Unpublish a template from both queues (already gone is fine)."""
        await self._call("DELETE", f"/templates/{name}", missing_ok=True)

    async def pause_template(self, name: str) -> None:
        """Pause a template."""
        await self._call("POST", f"/templates/{name}/pause")

    async def resume_template(self, name: str) -> None:
        """Resume a template."""
        await self._call("POST", f"/templates/{name}/resume")

    async def reset(self) -> dict[str, int]:
        """Make the instance forget every event (tests); return what it removed."""
        body = await self._call("POST", "/reset")
        try:
            return {"events": int(body["events"])}
        except (KeyError, TypeError, ValueError):
            raise InstanceCallError("the instance's /_mc/reset answer is not understood") from None

    async def clock(self, offset_seconds: float | None = None) -> ClockReport:
        """Read the instance's clock, or set how far ahead of real time it runs (tests)."""
        if offset_seconds is None:
            body = await self._call("GET", "/clock")
        else:
            body = await self._call("POST", "/clock", json={"offsetSeconds": offset_seconds})
        try:
            return ClockReport.model_validate(body)
        except ValueError:
            raise InstanceCallError("the instance's /_mc/clock answer is not understood") from None


def _describe(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        text = str(body["message"])
        if body.get("detail"):
            text += f" ({body['detail']})"
    else:
        text = answer.text[:200]
    return f"HTTP {answer.status_code}: {text}"
