"""Active health checks: ``GET /nl/jsp/ping.jsp`` on every backend, and its instance id.

One checker runs per balancer (in its only process, or in a dedicated process next to the
workers) and writes what it sees into the shared table. A backend not checked yet is used; its
first check decides its state. Afterwards ``fall`` failed checks in a row take an up backend
out and ``rise`` passed checks in a row bring a down one back — also one that a worker ejected
after a failed request. When a backend answers, its ``GET /health`` tells its ``instance_id``:
the high byte of the PKeys it issues, used to route status reads (DESIGN §3.8).
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from load_balancer.shared import DOWN, UNKNOWN, UP, BackendSlot, SharedState

__all__ = ["PING_PATH", "HealthChecker"]

log = logging.getLogger("mcsim.lb.health")

PING_PATH = "/nl/jsp/ping.jsp"
#: How many checks may pass before the instance id is read again (it changes only on restart).
_INSTANCE_EVERY = 10


class HealthChecker:
    """Check every backend of a shared table, again and again."""

    def __init__(
        self,
        shared: SharedState,
        client: httpx.AsyncClient,
        *,
        interval: float,
        timeout: float,
        rise: int,
        fall: int,
    ) -> None:
        self.shared = shared
        self.client = client
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
        self._rounds: dict[int, int] = {}

    async def run(self) -> None:
        """Check every backend every ``interval`` seconds, until cancelled."""
        while True:
            await self.check_all()
            await asyncio.sleep(self.interval)

    async def check_all(self) -> None:
        """Check every backend once, concurrently."""
        slots = self.shared.slots()
        serials = {slot.serial for slot in slots}
        self._rounds = {s: n for s, n in self._rounds.items() if s in serials}
        await asyncio.gather(*(self.check(slot) for slot in slots))

    async def check(self, slot: BackendSlot) -> None:
        """Check one backend and update its state."""
        error = await self._ping(slot.url)
        oks, fails = self.shared.record_check(slot.index, slot.serial, ok=error is None)
        current = self.shared.slot(slot.index)
        if current.serial != slot.serial:
            return  # removed while it was checked
        if error is None:
            rounds = self._rounds.get(slot.serial, 0)
            self._rounds[slot.serial] = rounds + 1
            if current.instance_id is None or current.state != UP or rounds % _INSTANCE_EVERY == 0:
                await self._learn_instance(current)
            rising = current.state == UNKNOWN or (current.state == DOWN and oks >= self.rise)
            if rising and self.shared.set_state(slot.index, slot.serial, UP, ""):
                log.info("backend %s is up", slot.url, extra={"backend": slot.url})
        elif current.state == UNKNOWN or (current.state == UP and fails >= self.fall):
            if self.shared.set_state(slot.index, slot.serial, DOWN, error):
                log.warning(
                    "backend %s is down", slot.url, extra={"backend": slot.url, "cause": error}
                )
        else:
            self.shared.set_state(slot.index, slot.serial, current.state, error)

    async def _ping(self, url: str) -> str | None:
        try:
            response = await self.client.get(url + PING_PATH, timeout=self.timeout)
        except httpx.HTTPError as exc:
            return f"health check failed: {type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return f"health check answered {response.status_code}: {response.text[:100].strip()}"
        return None

    async def _learn_instance(self, slot: BackendSlot) -> None:
        try:
            response = await self.client.get(slot.url + "/health", timeout=self.timeout)
            instance = response.json().get("instance_id") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            return
        if instance is None or isinstance(instance, int):
            if instance != slot.instance_id:
                log.info(
                    "backend %s is execution instance %s",
                    slot.url,
                    instance,
                    extra={"backend": slot.url, "instance_id": instance},
                )
            self.shared.set_instance(slot.index, slot.serial, instance)
