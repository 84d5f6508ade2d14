"""What an execution instance holds while it runs, built by its lifespan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from execution_instance.identity import Identity
from execution_instance.intake.documents import EventLimits
from execution_instance.intake.service import IntakeService
from execution_instance.intake.writer import EventWriter
from execution_instance.processes import SharedMemory
from execution_instance.processing import claims
from execution_instance.processing.service import Processor, ProcessorSettings, load_epoch
from execution_instance.reset.service import ResetOutcome, read_epoch, reset_events
from execution_instance.security.control_plane import ControlPlaneAuth
from execution_instance.security.ims import ImsVerifier
from execution_instance.security.service import SecurityService
from execution_instance.settings import ExecutionSettings
from execution_instance.tables import config_version
from execution_instance.templates.service import TemplateService
from services.auth.zones import ZoneTable
from services.clock import ClockChange, load_offset, move_clock, real_now
from services.db import Database
from services.delivery_client import DeliveryClient
from services.forwarding import TrustedProxies
from services.personalization import RenderLimits, TemplateEngine

__all__ = ["ExecutionState", "prepare_instance"]


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
    #: What this process shares with the instance's other processes (its own when alone).
    shared: SharedMemory
    #: Wakes the processing workers: this process's own, or a processing process's.
    wake_processing: Callable[[], None]

    #: The version of the configuration (table ``config_version``) the caches hold.
    config_seen: int | None = None

    def refresh(self) -> None:
        """Every second: re-count the queue, and re-read the configuration if it changed.

        The database's triggers move ``config_version`` with every change of the configuration,
        whoever makes it (this instance's other processes, a replica sharing the database).
        The version is read before the configuration: a change committed in between is read
        now and again next time, never missed.
        """
        with self.db.transaction() as session:
            version = session.execute(select(config_version.c.version)).scalar()
            self.intake.count_pending(session)
        if version is None or version != self.config_seen:
            self.reload()
            self.config_seen = version

    def reload(self) -> None:
        """Re-read from the database everything requests and workers serve from memory."""
        if load_offset(self.db, environment=self.settings.environment):
            self.security.forget_sessions()  # a session may have expired with the clock
        self.identity.load()
        self.security.refresh()
        self.intake.refresh()
        self.templates.refresh()

    def catch_up(self) -> None:
        """Re-read the caches if another process changed the configuration since the last time.

        Cached sessions are dropped too: one of them may belong to an operator just removed.
        """
        self.shared.catch_up(self._reload)

    def _reload(self) -> None:
        self.security.forget_sessions()
        self.reload()
        # A reset in another process renewed the message epoch: new messages must carry it.
        self.processor.epoch = read_epoch(self.db) or self.processor.epoch

    def reset(self) -> ResetOutcome:
        """Forget every event (tests; refused in production), then bring this process's caches
        and, through the generation, every other process's up to date."""
        outcome = reset_events(db=self.db, environment=self.settings.environment)
        self.processor.epoch = outcome.epoch
        self.intake.refresh()
        self.configuration_changed()
        return outcome

    def move_clock(self, change: ClockChange) -> None:
        """Move the instance's clock (tests; refused in production), then have every process
        follow it and the workers look for events that became due."""
        moved = move_clock(self.db, change, environment=self.settings.environment)
        with self.db.transaction(write=True) as session:
            claims.shift_leases(
                session, by=moved.after - moved.before, held_after=real_now() + moved.before
            )
        self.security.forget_sessions()
        self.configuration_changed()
        self.wake_processing()

    def configuration_changed(self) -> None:
        """A control-plane change was committed: every process re-reads before its next call."""
        self.shared.bump()

    @classmethod
    def build(
        cls,
        settings: ExecutionSettings,
        db: Database,
        http: httpx.AsyncClient,
        *,
        shared: SharedMemory | None = None,
        wakeup: Callable[[], None] | None = None,
    ) -> ExecutionState:
        """Wire the services of an instance together (nothing runs yet).

        ``wakeup`` tells the processing processes that events were stored (default: this
        process's own workers).
        """
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
        wake = wakeup or processor.notify
        return cls(
            settings=settings,
            db=db,
            identity=identity,
            security=_security(settings, db, identity, http=http),
            control_plane=ControlPlaneAuth(
                login=settings.control_login,
                password=settings.control_password,
                zones=ZoneTable(settings.security_zones),
            ),
            intake=_intake(settings, db, writer, identity, on_stored=wake),
            writer=writer,
            limits=EventLimits(
                max_ctx_bytes=settings.max_ctx_bytes,
                max_events_per_call=settings.max_events_per_call,
            ),
            proxies=TrustedProxies(settings.trusted_proxies, secret=settings.proxy_secret),
            templates=templates,
            processor=processor,
            shared=shared or SharedMemory.create(between_processes=False),
            wake_processing=wake,
        )


def prepare_instance(settings: ExecutionSettings, db: Database) -> None:
    """Do the start-up work on the (migrated) database, once for all of the instance's processes:
    seed the operators, technical tokens and event types of the settings, create the epoch."""
    identity = Identity(db, settings.instance_id)
    identity.load()
    _security(settings, db, identity).seed(
        operators=settings.operators, technical_tokens=settings.technical_tokens
    )
    if settings.event_types:
        intake = _intake(settings, db, EventWriter(db), identity, on_stored=None)
        intake.add_event_types([(name, name) for name in settings.event_types])
    load_epoch(db)


def _security(
    settings: ExecutionSettings,
    db: Database,
    identity: Identity,
    *,
    http: httpx.AsyncClient | None = None,
) -> SecurityService:
    ims = ImsVerifier(http, ims_url=settings.ims_url, campaign_instance=settings.campaign_instance)
    return SecurityService(
        db,
        zones=settings.security_zones,
        identity=identity,
        session_ttl=settings.session_ttl_seconds,
        password_cache=settings.password_cache_seconds,
        ims=ims,
    )


def _intake(
    settings: ExecutionSettings,
    db: Database,
    writer: EventWriter,
    identity: Identity,
    *,
    on_stored: Callable[[], None] | None,
) -> IntakeService:
    return IntakeService(
        db,
        writer,
        identity=identity,
        queue_warning=settings.queue_warning,
        queue_hard_limit=settings.queue_hard_limit,
        on_stored=on_stored,
    )
