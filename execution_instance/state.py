"""What an execution instance holds while it runs, built by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from execution_instance.intake.documents import EventLimits
from execution_instance.intake.service import IntakeService
from execution_instance.intake.writer import EventWriter
from execution_instance.security.service import SecurityService
from execution_instance.settings import ExecutionSettings
from services.db import Database
from services.forwarding import TrustedProxies

__all__ = ["ExecutionState"]


@dataclass
class ExecutionState:
    """The composition root of one execution instance."""

    settings: ExecutionSettings
    db: Database
    security: SecurityService
    intake: IntakeService
    writer: EventWriter
    limits: EventLimits
    proxies: TrustedProxies

    def refresh(self) -> None:
        """Re-read from the database everything requests serve from memory."""
        self.security.refresh()
        self.intake.refresh()

    @classmethod
    def build(cls, settings: ExecutionSettings, db: Database) -> ExecutionState:
        """Wire the services of an instance together (nothing runs yet)."""
        writer = EventWriter(db)
        return cls(
            settings=settings,
            db=db,
            security=SecurityService(
                db,
                zones=settings.security_zones,
                instance_id=settings.instance_id,
                session_ttl=settings.session_ttl_seconds,
                password_cache=settings.password_cache_seconds,
            ),
            intake=IntakeService(
                db,
                writer,
                instance_id=settings.instance_id,
                queue_warning=settings.queue_warning,
                queue_hard_limit=settings.queue_hard_limit,
            ),
            writer=writer,
            limits=EventLimits(
                max_ctx_bytes=settings.max_ctx_bytes,
                max_events_per_call=settings.max_events_per_call,
            ),
            proxies=TrustedProxies(settings.trusted_proxies),
        )
