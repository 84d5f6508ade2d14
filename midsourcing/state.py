"""What the mid-sourcing server holds while it runs, built by its lifespan."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from midsourcing.capture.feed import CaptureFeed
from midsourcing.delivery.chaos import Chaos
from midsourcing.delivery.deliverer import Deliverer
from midsourcing.delivery.policy import RetryPolicy
from midsourcing.delivery.smtp import RelaySettings, SmtpRelay
from midsourcing.delivery.webhook import WebhookForwarder
from midsourcing.delivery.worker import Dispatcher
from midsourcing.security.service import MidSecurity
from midsourcing.settings import MidSettings
from services.db import Database

__all__ = ["MidState"]


@dataclass
class MidState:
    """The composition root of the mid-sourcing server."""

    settings: MidSettings
    db: Database
    security: MidSecurity
    chaos: Chaos
    relay: SmtpRelay | None
    dispatcher: Dispatcher
    #: Wakes long-polls and event streams when captured messages change.
    feed: CaptureFeed

    @classmethod
    def build(cls, settings: MidSettings, db: Database, http: httpx.AsyncClient) -> MidState:
        """Wire the parts of the server together (nothing runs yet; called in its event loop)."""
        chaos = Chaos()
        relay = None
        if settings.smtp_host:
            relay = SmtpRelay(
                RelaySettings(
                    host=settings.smtp_host,
                    port=settings.smtp_port,
                    starttls=settings.smtp_starttls,
                    verify_tls=settings.smtp_tls_verify,
                    username=settings.smtp_username,
                    password=settings.smtp_password,
                    timeout=settings.smtp_timeout_seconds,
                    connections=settings.smtp_connections,
                )
            )
        deliverer = Deliverer(
            chaos=chaos,
            relay=relay,
            forwarder=WebhookForwarder(
                http, tries=settings.webhook_tries, retry_seconds=settings.webhook_retry_seconds
            ),
            message_id_domain=settings.message_id_domain,
            sms_webhook_url=settings.sms_webhook_url,
            push_webhook_url=settings.push_webhook_url,
        )
        policy = RetryPolicy(
            max_tries=settings.max_tries,
            retry_seconds=settings.retry_seconds,
            retry_max_seconds=settings.retry_max_seconds,
            soft_days=settings.quarantine_soft_days,
            mailbox_full_days=settings.quarantine_mailbox_full_days,
        )
        dispatcher = Dispatcher(
            db,
            deliverer=deliverer,
            policy=policy,
            concurrency=settings.concurrency,
            claim_batch=settings.claim_batch,
            poll_seconds=settings.poll_seconds,
            lease_seconds=settings.lease_seconds,
            grace_seconds=settings.shutdown_grace_seconds,
        )
        security = MidSecurity(
            db,
            zones=settings.security_zones,
            session_ttl=settings.session_ttl_seconds,
            password_cache=settings.password_cache_seconds,
        )
        feed = CaptureFeed(asyncio.get_running_loop())
        dispatcher.recorder.on_commit = lambda _finished: feed.changed()
        return cls(settings, db, security, chaos, relay, dispatcher, feed)
