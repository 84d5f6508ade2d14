"""One try of one message: magic recipients, then chaos, then the channel's connector.

Email goes to the SMTP relay when one is configured and is captured either way (the message row
is the capture store); SMS and push are captured and, when a webhook URL is set, forwarded. An
email that has no source (an address header that is not one plain address) fails in both
modes, as ``/raw`` answers 409 for it; one whose rendering raises fails alone, with the error.
Large emails are rendered in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from midsourcing.delivery.chaos import Chaos
from midsourcing.delivery.item import Outgoing
from midsourcing.delivery.magic import parse_magic
from midsourcing.delivery.mime import InvalidAddress, check_addresses, render_email
from midsourcing.delivery.reasons import Attempt, FailureReason
from midsourcing.delivery.smtp import SmtpRelay
from midsourcing.delivery.webhook import WebhookForwarder
from services.delivery_protocol import FailureType

__all__ = ["CAPTURED", "INLINE_RENDER_LIMIT", "Deliverer", "Tried"]

#: The answer of the built-in capture store, worded as an MTA's.
CAPTURED = "250 2.0.0 Ok: captured by mcsim"
#: Emails with more characters of content than this are rendered in a worker thread: the
#: HTML-to-text conversion of a large HTML-only email takes milliseconds.
INLINE_RENDER_LIMIT = 16_384


@dataclass(frozen=True, slots=True)
class Tried:
    """The outcome of a try and what the webhook said, if one was called."""

    attempt: Attempt
    forwarded: str = ""


class Deliverer:
    """Run one try of a message."""

    def __init__(
        self,
        *,
        chaos: Chaos,
        relay: SmtpRelay | None,
        forwarder: WebhookForwarder,
        message_id_domain: str,
        sms_webhook_url: str | None,
        push_webhook_url: str | None,
    ) -> None:
        self.chaos = chaos
        self.relay = relay
        self.forwarder = forwarder
        self.domain = message_id_domain
        self.webhooks = {
            "sms": sms_webhook_url,
            "ios": push_webhook_url,
            "android": push_webhook_url,
        }

    async def deliver(self, item: Outgoing) -> Tried:
        """Try to deliver ``item`` once."""
        latency = self.chaos.latency(item.channel)
        if latency > 0:
            await asyncio.sleep(latency)
        forced = parse_magic(item.channel, item.recipient).attempt(
            recipient=item.recipient, try_number=item.tries
        )
        if forced is not None:
            return Tried(forced)
        injected = self.chaos.attempt(item.channel)
        if injected is not None:
            return Tried(injected)
        if item.channel == "email":
            return Tried(await self._email(item))
        url = self.webhooks.get(item.channel)
        forwarded = await self.forwarder.forward(url, item) if url else ""
        return Tried(Attempt.sent(CAPTURED), forwarded)

    async def _email(self, item: Outgoing) -> Attempt:
        try:
            if self.relay is None:
                check_addresses(item, domain=self.domain)
                return Attempt.sent(CAPTURED)
            if len(item.text) + len(item.html) > INLINE_RENDER_LIMIT:
                data = await asyncio.to_thread(render_email, item, domain=self.domain)
            else:
                data = render_email(item, domain=self.domain)
        except InvalidAddress as exc:
            return _unencodable(exc)
        except Exception as exc:  # a bug in rendering: this message fails, the others go on
            return Attempt(
                False,
                FailureType.HARD,
                FailureReason.REFUSED,
                f"Refused: the message cannot be rendered: {type(exc).__name__}: {exc}",
                address_fault=False,
            )
        sender = item.from_address or f"noreply@{self.domain}"
        return await self.relay.send(sender=sender, recipient=item.recipient, data=data)


def _unencodable(exc: InvalidAddress) -> Attempt:
    """Return the failure of an email without a source: final, and no fault of the recipient.

    Unless the recipient's own address is the one refused: then it is quarantined as before.
    """
    return Attempt(
        False,
        FailureType.HARD,
        FailureReason.REFUSED,
        f"Refused: the message cannot be encoded: {exc}",
        address_fault=exc.header == "To",
    )
