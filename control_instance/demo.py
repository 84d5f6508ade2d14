"""The demo workspace of DESIGN §6.2 (``mcsim up --demo``).

For now it publishes the demo event types to every execution instance through their ``/_mc/``
API, so that events of those types are accepted at once. Templates, seed addresses and the
control instance's own records arrive with the control-instance use cases.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

__all__ = ["DEMO_EVENT_TYPES", "DemoSetupError", "publish_demo_event_types"]

log = logging.getLogger("mcsim.demo")


class DemoSetupError(RuntimeError):
    """The demo workspace cannot be created (an instance is unreachable or refuses us)."""


DEMO_EVENT_TYPES = {
    "PASSWORD_RESET": "Password reset",
    "ORDER_CONFIRMATION": "Order confirmation",
}


async def publish_demo_event_types(
    client: httpx.AsyncClient,
    *,
    execution_urls: list[str],
    login: str,
    password: str,
    attempts: int = 20,
) -> None:
    """Publish the demo event types to every execution instance, retrying while one starts."""
    for url in execution_urls:
        for name, label in DEMO_EVENT_TYPES.items():
            target = f"{url.rstrip('/')}/_mc/event-types/{name}"
            for attempt in range(1, attempts + 1):
                try:
                    answer = await client.put(target, json={"label": label}, auth=(login, password))
                except httpx.TransportError as exc:  # the instance is still starting
                    if attempt == attempts:
                        raise DemoSetupError(f"cannot reach {url}: {exc}") from exc
                    await asyncio.sleep(0.5)
                    continue
                if answer.status_code != 204:
                    raise DemoSetupError(
                        f"{url} refused to publish {name} ({answer.status_code}): {answer.text}"
                        " - check MCSIM_CONTROL_EXECUTION_LOGIN and _EXECUTION_PASSWORD"
                    )
                break
        log.info("demo event types published", extra={"instance": url})
