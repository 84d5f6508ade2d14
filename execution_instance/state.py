"""What an execution instance holds while it runs, built by its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from execution_instance.identity import Identity
from execution_instance.intake.documents import EventLimits
from execution_instance.intake.service import IntakeService
from execution_instance.intake.writer import EventWriter
from execution_instance.processing.service import Processor, ProcessorSettings
from execution_instance.security.control_plane import ControlPlaneAuth
from execution_instance.security.service import SecurityService
from execution_instance.settings import ExecutionSettings
from execution_instance.templates.service import TemplateService
from services.auth.zones import ZoneTable
from services.db import Database
from services.delivery_client import DeliveryClient
from services.forwarding import TrustedProxies
from services.personalization import RenderLimits, TemplateEngine

__all__ = ["ExecutionState"]


@dataclass
class ExecutionState:
    """The composition root of one execution instance."""

    settings: ExecutionSettings
    db: Database
    identity: Identity
    security: SecurityService
    control_plane: ControlPlaneAuth
    intake: IntakeService
    writer: EventWriter
    limits: EventLimits
    proxies: TrustedProxies
    templates: TemplateService
    processor: Processor

    def refresh(self) -> None:
        """Re-read from the database everything requests and workers serve from memory."""
        self.identity.load()
        self.security.refresh()
        self.intake.refresh()
        self.templates.refresh()

    @classmethod
    def build(
        cls, settings: ExecutionSettings, db: Database, http: httpx.AsyncClient
    ) -> ExecutionState:
        """Wire the services of an instance together (nothing runs yet)."""
        writer = EventWriter(db)
        identity = Identity(db, settings.instance_id)
        templates = TemplateService(db)
        engine = TemplateEngine(
            RenderLimits(
                time_limit=settings.render_time_limit_ms / 1000,
                memory_limit=settings.render_memory_limit_mb * 1024 * 1024,
            )
        )
        mid = DeliveryClient(
            http,
            url=settings.midsourcing_url,
            login=settings.midsourcing_login,
            password=settings.midsourcing_password or "",
        )
        processor = Processor(
            db,
            templates,
            engine,
            mid,
            ProcessorSettings(
                workers=settings.workers,
                batch_size=settings.claim_batch_size,
                lease_seconds=settings.claim_lease_seconds,
                idle_poll_seconds=settings.idle_poll_seconds,
                retry_base_seconds=settings.handoff_retry_base_seconds,
                retry_max_seconds=settings.handoff_retry_max_seconds,
                validity_seconds=settings.validity_seconds,
                sync_seconds=settings.status_sync_seconds,
            ),
            identity,
        )
        return cls(
            settings=settings,
            db=db,
            identity=identity,
            security=SecurityService(
                db,
                zones=settings.security_zones,
                identity=identity,
                session_ttl=settings.session_ttl_seconds,
                password_cache=settings.password_cache_seconds,
            ),
            control_plane=ControlPlaneAuth(
                login=settings.control_login,
                password=settings.control_password,
                zones=ZoneTable(settings.security_zones),
            ),
            intake=IntakeService(
                db,
                writer,
                identity=identity,
                queue_warning=settings.queue_warning,
                queue_hard_limit=settings.queue_hard_limit,
                on_stored=processor.notify,
            ),
            writer=writer,
            limits=EventLimits(
                max_ctx_bytes=settings.max_ctx_bytes,
                max_events_per_call=settings.max_events_per_call,
            ),
            proxies=TrustedProxies(settings.trusted_proxies, secret=settings.proxy_secret),
            templates=templates,
            processor=processor,
        )
