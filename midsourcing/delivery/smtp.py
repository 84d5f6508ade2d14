"""Send email to an SMTP relay with aiosmtplib, over a small pool of open connections.

Each connection carries one mail transaction at a time. A connection that sat idle is checked
with ``NOOP`` before it is reused, so that a relay that closed it does not turn into a failed
message. What the relay answers is qualified by :mod:`midsourcing.delivery.qualification`.

``MAIL FROM`` and ``RCPT TO`` of a plain address (a dot-atom local part and host name, which is
what nearly every message has) are written directly: aiosmtplib's ``mail()`` and ``rcpt()`` parse
every address with :func:`email.utils.parseaddr`, a third of the CPU a message cost on the wire,
to produce the same ``<address>``. Any other address still goes through them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass

import aiosmtplib

from midsourcing.delivery.qualification import qualify_smtp_reply, qualify_unreachable
from midsourcing.delivery.reasons import Attempt

__all__ = ["RelaySettings", "SmtpRelay"]

log = logging.getLogger("mcsim.mid.smtp")
_CHECK_IDLE_AFTER = 5.0  # seconds
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
#: An address aiosmtplib would send unchanged inside ``<>`` (RFC 5321 dot-atom @ host name).
_PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


@dataclass(frozen=True)
class RelaySettings:
    """Where the relay is and how to talk to it."""

    host: str
    port: int = 25
    starttls: bool = False
    verify_tls: bool = True
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    connections: int = 8


class SmtpRelay:
    """A pool of SMTP connections to one relay."""

    def __init__(self, settings: RelaySettings) -> None:
        self.settings = settings
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._slots = asyncio.Semaphore(settings.connections)

    async def _connect(self) -> aiosmtplib.SMTP:
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            timeout=s.timeout,
            start_tls=s.starttls,
            validate_certs=s.verify_tls,
            username=s.username,
            password=s.password,
        )
        await client.connect()
        return client

    async def _take(self) -> aiosmtplib.SMTP:
        while self._idle:
            client, since = self._idle.pop()
            if not client.is_connected:
                continue
            if time.monotonic() - since < _CHECK_IDLE_AFTER:
                return client
            try:
                await client.noop()
                return client
            except (aiosmtplib.SMTPException, OSError):
                await _close(client)
        return await self._connect()

    async def send(self, *, sender: str, recipient: str, data: bytes) -> Attempt:
        """Send one message to one recipient and qualify the relay's answer."""
        async with self._slots:
            try:
                client = await self._take()
            except aiosmtplib.SMTPResponseException as exc:  # refused at greeting or AUTH
                return _infrastructure(f"{exc.code} {exc.message}")
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return qualify_unreachable(f"{self.settings.host}:{self.settings.port}: {exc}")
            try:
                reply = await self._transaction(client, sender, recipient, data)
            except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPHeloError) as exc:
                self._keep(client)  # the session is refused, not the recipient
                return _infrastructure(f"{exc.code} {exc.message}")
            except aiosmtplib.SMTPResponseException as exc:  # RCPT TO or DATA refused
                self._keep(client)
                return qualify_smtp_reply(exc.code, exc.message)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await _close(client)
                cause = str(exc) or type(exc).__name__
                return qualify_unreachable(f"{self.settings.host}:{self.settings.port}: {cause}")
            self._keep(client)
            return qualify_smtp_reply(reply.code, reply.message)

    async def _transaction(
        self, client: aiosmtplib.SMTP, sender: str, recipient: str, data: bytes
    ) -> aiosmtplib.SMTPResponse:
        # MAIL, RCPT and DATA one by one under one deadline: cheaper than sendmail(), which
        # re-parses the addresses, sizes the message and arms a timer per command.
        async with asyncio.timeout(self.settings.timeout):
            await _mail(client, sender)
            try:
                await _rcpt(client, recipient)
                return await client.data(data, timeout=None)
            except aiosmtplib.SMTPResponseException:
                await _reset(client)
                raise

    def _keep(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append((client, time.monotonic()))

    async def close(self) -> None:
        """Close every idle connection politely."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            await _close(client, polite=True)


def _plain(client: aiosmtplib.SMTP, address: str) -> bytes | None:
    """Return ``<address>`` when it can be written as is on a greeted connection."""
    if client.is_ehlo_or_helo_needed or not _PLAIN_ADDRESS.fullmatch(address):
        return None
    return b"<" + address.encode("ascii") + b">"


async def _mail(client: aiosmtplib.SMTP, sender: str) -> None:
    """``MAIL FROM``; raise SMTPSenderRefused unless the relay answers 250 (as ``mail()``)."""
    quoted = _plain(client, sender)
    if quoted is None:
        await client.mail(sender, timeout=None)
        return
    reply = await client.execute_command(b"MAIL", b"FROM:" + quoted, timeout=None)
    if reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)


async def _rcpt(client: aiosmtplib.SMTP, recipient: str) -> None:
    """``RCPT TO``; raise SMTPRecipientRefused unless it answers 250 or 251 (as ``rcpt()``)."""
    quoted = _plain(client, recipient)
    if quoted is None:
        await client.rcpt(recipient, timeout=None)
        return
    reply = await client.execute_command(b"RCPT", b"TO:" + quoted, timeout=None)
    if reply.code not in (250, 251):
        raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)


async def _reset(client: aiosmtplib.SMTP) -> None:
    """Abort the mail transaction so that the connection can carry the next one."""
    try:
        await client.rset(timeout=None)
    except (aiosmtplib.SMTPException, OSError):
        client.close()


def _infrastructure(text: str) -> Attempt:
    return qualify_unreachable(f"the relay refused the session: {text}")


async def _close(client: aiosmtplib.SMTP, *, polite: bool = False) -> None:
    try:
        if polite and client.is_connected:
            await client.quit()
        else:
            client.close()
    except (aiosmtplib.SMTPException, OSError):
        client.close()
